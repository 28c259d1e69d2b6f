/**
 * The app:// protocol: serves the renderer's build folder and nothing else. Electron hands every
 * request of the scheme to `serveAsset`; it resolves the URL to a file strictly inside the root
 * (segment by segment, after percent-decoding, so neither `..` nor its encodings, encoded or
 * back slashes, NUL, drive letters nor absolute paths get out), then checks the file's real path
 * (a symbolic link pointing outside the root is refused), and answers with the file, its MIME type
 * and the security headers (CSP included). Plain Node: tests run it on real files.
 */
import { promises as fs } from 'node:fs';
import nodePath from 'node:path';
import { securityHeaders } from './csp.js';
import { APP_SCHEME, isAppOrigin } from './origin.js';

/**
 * How the scheme is registered before the app is ready: `standard` gives it an origin (so 'self'
 * in the CSP and same-origin fetches mean app://triage), `secure` makes it a secure context like
 * https, `supportFetchAPI` lets the renderer fetch its WASM files. Not `bypassCSP`, not
 * `corsEnabled`, no service workers, no extensions.
 */
export const SCHEME_PRIVILEGES = {
  scheme: APP_SCHEME,
  privileges: { standard: true, secure: true, supportFetchAPI: true },
} as const;

/** The types a renderer build holds; anything else is not served. `.wasm` must be application/wasm. */
export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
};

export type AssetResolution =
  { ok: true; path: string; mime: string } | { ok: false; status: 400 | 403 | 404 | 405; reason: string };

type PathApi = Pick<typeof nodePath, 'join' | 'relative' | 'isAbsolute' | 'extname' | 'sep'>;

/** A C0 control character (NUL included) or DEL. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Control characters, slashes of either kind, and ':' (a Windows drive or stream). */
function forbiddenInSegment(segment: string): boolean {
  return hasControlCharacter(segment) || /[/\\:]/.test(segment);
}

/**
 * Maps a request URL to a file path under `root`, or says why not. Pure: no file system access
 * (see `serveAsset` for the symbolic-link check). `pathApi` lets tests check Windows semantics.
 */
export function resolveAssetPath(requestUrl: string, root: string, pathApi: PathApi = nodePath): AssetResolution {
  // Backslashes and raw control characters are refused before URL parsing, which would turn a
  // backslash into a slash or strip the control characters.
  if (requestUrl.includes('\\') || hasControlCharacter(requestUrl))
    return { ok: false, status: 400, reason: 'backslash or control character in the URL' };
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    return { ok: false, status: 400, reason: 'not a URL' };
  }
  if (!isAppOrigin(url)) return { ok: false, status: 404, reason: 'not the app origin' };
  const rawSegments = url.pathname === '/' || url.pathname === '' ? ['index.html'] : url.pathname.slice(1).split('/');
  const segments: string[] = [];
  for (const raw of rawSegments) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return { ok: false, status: 400, reason: 'malformed percent-encoding' };
    }
    if (segment === '') return { ok: false, status: 400, reason: 'empty path segment' };
    if (segment === '.' || segment === '..') return { ok: false, status: 400, reason: 'dot segment' };
    if (forbiddenInSegment(segment))
      return { ok: false, status: 400, reason: 'slash, colon or control character in a segment' };
    if (segment.startsWith('.')) return { ok: false, status: 404, reason: 'hidden file' };
    segments.push(segment);
  }
  const path = pathApi.join(root, ...segments);
  // The folder itself is not a file it serves.
  if (pathApi.relative(root, path) === '' || !isInside(root, path, pathApi)) {
    return { ok: false, status: 403, reason: 'outside the app folder' };
  }
  const mime = MIME_TYPES[pathApi.extname(path).toLowerCase()];
  if (!mime) return { ok: false, status: 404, reason: 'file type not served' };
  return { ok: true, path, mime };
}

/** True when `inner` is `outer` or below it (both already absolute and resolved). */
export function isInside(outer: string, inner: string, pathApi: PathApi = nodePath): boolean {
  const relative = pathApi.relative(outer, inner);
  return relative === '' || (!relative.startsWith('..') && !pathApi.isAbsolute(relative));
}

function refusal(status: number, reason: string): Response {
  return new Response(`${status} ${reason}`, {
    status,
    headers: { ...securityHeaders(), 'Content-Type': 'text/plain; charset=utf-8' },
  });
}

/**
 * Answers one request of the app:// scheme from the files under `root` (works inside app.asar:
 * Electron's fs reads and realpaths archive entries). Only GET and HEAD.
 */
export async function serveAsset(request: { url: string; method: string }, root: string): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return refusal(405, 'method not allowed');
  const resolved = resolveAssetPath(request.url, root);
  if (!resolved.ok) return refusal(resolved.status, resolved.reason);
  let realRoot: string;
  let realFile: string;
  try {
    realRoot = await fs.realpath(root);
    realFile = await fs.realpath(resolved.path);
  } catch {
    return refusal(404, 'not found');
  }
  if (!isInside(realRoot, realFile)) return refusal(403, 'outside the app folder');
  let body: Uint8Array<ArrayBuffer>;
  try {
    if (!(await fs.stat(realFile)).isFile()) return refusal(404, 'not a file');
    const data = await fs.readFile(realFile);
    body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch {
    return refusal(404, 'not found');
  }
  const headers = { ...securityHeaders(), 'Content-Type': resolved.mime, 'Content-Length': String(body.length) };
  return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers });
}
