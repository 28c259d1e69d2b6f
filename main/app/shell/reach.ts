/**
 * What the window may ask the engine to scan: paths the user gave it, nothing else. The open
 * dialog (which the main process shows) and a drop (the preload's pathForFile, on a File the user
 * dropped) grant paths to the window; scan.start takes a path only when a grant covers it, or when
 * the results store already holds it (the user scanned it before: "Analyse again").
 *
 * A granted folder covers the paths inside it: scanning the folder reaches every file under it
 * anyway, so a file inside gives the window no reach the folder did not. Inside means lexically,
 * on paths in normal form: a path with `.` or `..` segments or empty ones is refused, since `..`
 * after a symbolic link leaves the folder on the file system while staying inside it on paper.
 *
 * Some paths are refused even when granted, before anything touches the file system: on Windows a
 * UNC path (`\\host\share`) or a device path (`\\?\`, `\\.\`, `\??\`, a reserved name such as
 * `CON` or `COM1`) makes the engine's stat() reach a device or a remote host (a DNS lookup and an
 * NTLM authentication that leaks the user's hash); on macOS and Linux the automounter's `/net`
 * and macOS's `/Network` do the same over NFS or SMB.
 *
 * Pure decisions, tested on both path semantics; `window-policy.ts` applies them per window.
 */
import { TriageError } from '../../errors/index.js';

/** Which rules a path follows: Windows' (drive letters, backslashes, case-insensitive) or POSIX's. */
export type PathSemantics = 'win32' | 'posix';

export function pathSemantics(platform: NodeJS.Platform): PathSemantics {
  return platform === 'win32' ? 'win32' : 'posix';
}

/** DOS device names, in any folder, with any extension (`nul.dcm` is the NUL device too). */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$|clock\$)(\..*)?$/i;

/**
 * Why a path must never reach the file system from the window, or null. UNC and device prefixes
 * are refused under either semantics (no dialog or drop answers them on POSIX, and a POSIX engine
 * reading `\\host\share` as a relative name is no better); reserved names only on Windows; the
 * automount folders only on POSIX, case-insensitively (macOS's file system is).
 */
export function remotePathReason(path: string, semantics: PathSemantics): string | null {
  if (/^[\\/]{2}[?.][\\/]/.test(path) || /^[\\/]\?\?[\\/]/.test(path))
    return 'it is a Windows device path (\\\\?\\, \\\\.\\ or \\??\\)';
  if (/^[\\/]{2}/.test(path)) return 'it is a network path (UNC, \\\\host\\share)';
  if (semantics === 'win32') {
    const device = path.split(/[\\/]/).find((segment) => WINDOWS_DEVICE.test(segment.replace(/[. ]+$/, '')));
    if (device !== undefined) return `it names the Windows device ${device.replace(/[. ]+$/, '').toUpperCase()}`;
    return null;
  }
  const first = path.split('/')[1]?.toLowerCase();
  if (first === 'net' || first === 'network')
    return `it is under /${path.split('/')[1]}, where the automounter reaches other hosts`;
  return null;
}

/**
 * The path in the form grants are compared in, or null when it is not in normal form (relative,
 * `.` or `..` or empty segments, NUL). Windows: backslashes, case folded; a trailing separator
 * is dropped except at a root.
 */
export function comparablePath(path: string, semantics: PathSemantics): string | null {
  if (path.includes('\0')) return null;
  if (semantics === 'win32') {
    const unified = path.replace(/\//g, '\\');
    const match = /^([A-Za-z]:)\\(.*)$/.exec(unified);
    if (!match) return null;
    const rest = match[2].replace(/\\$/, '');
    if (rest !== '' && rest.split('\\').some((s) => s === '' || s === '.' || s === '..')) return null;
    return `${match[1]}\\${rest}`.toLowerCase();
  }
  if (!path.startsWith('/')) return null;
  const rest = path.slice(1).replace(/\/$/, '');
  if (rest !== '' && rest.split('/').some((s) => s === '' || s === '.' || s === '..')) return null;
  return `/${rest}`;
}

/** Whether a grant (a file or a folder) covers `path`: the same path, or one inside the folder. */
export function covers(granted: string, path: string): boolean {
  if (path === granted) return true;
  const separator = granted.includes('\\') ? '\\' : '/';
  return path.startsWith(granted.endsWith(separator) ? granted : `${granted}${separator}`);
}

/** How many grants a window keeps; the oldest go first (a drop of thousands of files included). */
export const MAX_GRANTS = 4096;

/** The paths granted to one window, in comparable form. */
export class PathGrants {
  private readonly granted = new Set<string>();

  constructor(private readonly semantics: PathSemantics) {}

  /** Records paths the user gave; those not in normal form are ignored (they could never match). */
  grant(paths: readonly string[]): void {
    for (const path of paths) {
      const comparable = typeof path === 'string' ? comparablePath(path, this.semantics) : null;
      if (comparable === null) continue;
      this.granted.delete(comparable);
      this.granted.add(comparable);
      if (this.granted.size > MAX_GRANTS) this.granted.delete(this.granted.values().next().value!);
    }
  }

  covers(path: string): boolean {
    const comparable = comparablePath(path, this.semantics);
    if (comparable === null) return false;
    for (const granted of this.granted) if (covers(granted, comparable)) return true;
    return false;
  }

  get size(): number {
    return this.granted.size;
  }
}

/** What scan.start's paths need: refused, allowed, or allowed if the results store holds these. */
export type ScanReach = { refused: TriageError } | { unresolved: string[] };

/** The first decision on scan.start's paths, before anything touches the file system. */
export function decideScanPaths(paths: readonly string[], grants: PathGrants, semantics: PathSemantics): ScanReach {
  for (const path of paths) {
    const reason = remotePathReason(path, semantics);
    if (reason !== null) {
      return {
        refused: new TriageError(
          'PATH_NOT_LOCAL',
          `The window may not scan ${quoted(path)}: ${reason}. Only files on this computer are scanned from the window; a network share can be opened with Open files… or Open folder….`,
        ),
      };
    }
    if (comparablePath(path, semantics) === null) {
      return {
        refused: new TriageError(
          'PATH_NOT_GRANTED',
          `The window may not scan ${quoted(path)}: the path is not in normal form (it has . or .. or empty parts). Open it with Open files… or drop it on the window.`,
        ),
      };
    }
  }
  return { unresolved: paths.filter((path) => !grants.covers(path)) };
}

/** The refusal for paths neither granted nor in the store (`stored`: those the store holds). */
export function notGrantedRefusal(unresolved: readonly string[], stored: ReadonlySet<string>): TriageError | null {
  const missing = unresolved.find((path) => !stored.has(path));
  if (missing === undefined) return null;
  return new TriageError(
    'PATH_NOT_GRANTED',
    `The window may not scan ${quoted(missing)}: it was not opened in this window (Open files…, Open folder… or a drop) and is not in the worklist. Open it with Open files… or drop it on the window.`,
  );
}

/** A path for a message: its name-bearing end, bounded (the window chose it, so it is not trusted). */
function quoted(path: string): string {
  const shown = path.length > 120 ? `…${path.slice(-119)}` : path;
  return JSON.stringify(shown);
}

/**
 * Whether the engine process may have the main process open this path in the system's viewer: a
 * validation's report, `.../validations/FOLDER/report.html`, absolute and local. The engine asks
 * only for the report it wrote; the check keeps a confused or compromised engine from opening
 * anything else (an executable, a share) through the desktop.
 */
export function isValidationReport(path: string, semantics: PathSemantics): boolean {
  if (remotePathReason(path, semantics) !== null) return false;
  const parts = path.split(semantics === 'win32' ? /[\\/]/ : '/');
  const absolute = semantics === 'win32' ? /^[a-z]:[\\/]/i.test(path) : path.startsWith('/');
  return (
    absolute &&
    !parts.includes('..') &&
    parts.length >= 4 &&
    parts.at(-1) === 'report.html' &&
    parts.at(-2) !== '' &&
    parts.at(-3) === 'validations'
  );
}
