/**
 * The received instances, on disk: `DIR/incoming/` while they arrive, `DIR/instances/UID.dcm`
 * once kept (named by SOP Instance UID: a second copy of an instance is recognised by its name
 * and never kept twice). An instance is kept by a hard link from its fsynced temporary file,
 * which never replaces an existing one, then the folder itself is fsynced: once `keep` resolves
 * the instance survives a crash or kill -9, and only then is the C-STORE answered Success.
 */
import { link, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidUid } from '../dimse/index.js';
import type { InstanceVerdict, SpooledInstance } from '../dimse/index.js';
import { MAX_FILE_BYTES, readDicomHeader } from '../ingest/index.js';
import { studyKey } from '../store/index.js';

/** What the node reads of an instance's header to route it (never shown or logged). */
export interface InstanceHeader {
  sopInstanceUID: string | null;
  studyInstanceUID: string | null;
  manufacturer: string | null;
  imageType: string | null;
}

/** The header only (at most the ingest's header budget, never the pixel data): 32 associations may deliver at once. */
export async function readInstanceHeader(path: string): Promise<InstanceHeader> {
  const dataSet = await readDicomHeader(path);
  const text = (tag: string) => dataSet.string(tag)?.replace(/\0/g, '').trim() || null;
  return {
    sopInstanceUID: text('x00080018'),
    studyInstanceUID: text('x0020000d'),
    manufacturer: text('x00080070'),
    imageType: text('x00080008'),
  };
}

export interface KeptInstance {
  path: string;
  studyKey: string;
  duplicate: boolean;
}

export class ReceivedInstances {
  readonly incomingDir: string;
  readonly instancesDir: string;

  constructor(
    readonly root: string,
    /** The loop guard: true for an object this product made (never triaged, never kept). */
    private readonly isOwnResult: (header: InstanceHeader) => boolean,
  ) {
    this.incomingDir = join(root, 'incoming');
    this.instancesDir = join(root, 'instances');
  }

  async prepare(): Promise<void> {
    await mkdir(this.incomingDir, { recursive: true });
    await mkdir(this.instancesDir, { recursive: true });
    // Temporary files of instances never acknowledged (a crash mid-transfer): the sender got no
    // Success for them and sends them again.
    for (const name of await readdir(this.incomingDir))
      await unlink(join(this.incomingDir, name)).catch(() => undefined);
  }

  pathOf(sopInstanceUID: string): string {
    return join(this.instancesDir, `${sopInstanceUID}.dcm`);
  }

  /** Makes a spooled instance durable, or refuses it; `onKept` learns of instances to triage. */
  async keep(
    spooled: SpooledInstance,
  ): Promise<{ verdict: InstanceVerdict; kept: KeptInstance | null; ownResult: boolean }> {
    const discard = () => unlink(spooled.temporaryPath).catch(() => undefined);
    let header: InstanceHeader;
    try {
      header = await readInstanceHeader(spooled.temporaryPath);
    } catch {
      await discard();
      return {
        verdict: { kept: false, status: 'cannot-understand', comment: 'the data set cannot be parsed' },
        kept: null,
        ownResult: false,
      };
    }
    if (header.sopInstanceUID !== spooled.sopInstanceUID || !isValidUid(spooled.sopInstanceUID)) {
      await discard();
      return {
        verdict: {
          kept: false,
          status: 'cannot-understand',
          comment: "the data set's SOP Instance UID is not the request's",
        },
        kept: null,
        ownResult: false,
      };
    }
    if (this.isOwnResult(header)) {
      // Our own SR or SC coming back (a PACS that forwards everything): accepted, never triaged.
      await discard();
      return { verdict: { kept: true, duplicate: true }, kept: null, ownResult: true };
    }
    const path = this.pathOf(spooled.sopInstanceUID);
    let duplicate = false;
    try {
      await link(spooled.temporaryPath, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        await discard();
        throw error;
      }
      duplicate = true;
    }
    await discard();
    // A duplicate too: the first copy, from another association, may not have synced its folder yet.
    await syncDirectory(this.instancesDir);
    return {
      verdict: { kept: true, duplicate },
      kept: { path, studyKey: studyKeyOf(header, path), duplicate },
      ownResult: false,
    };
  }

  /** Every kept instance's path and when it arrived (its file's time): a restart's work. */
  async *kept(): AsyncGenerator<{ path: string; arrivedAt: number }> {
    for (const name of await readdir(this.instancesDir)) {
      if (!name.endsWith('.dcm')) continue;
      const path = join(this.instancesDir, name);
      const arrivedAt = await stat(path).then(
        (info) => info.mtimeMs,
        () => Date.now(),
      );
      yield { path, arrivedAt };
    }
  }

  /** The study an instance belongs to, from its header (`file:PATH` when it names none, or cannot be read). */
  async studyOf(path: string): Promise<string> {
    try {
      return studyKeyOf(await readInstanceHeader(path), path);
    } catch {
      // Unreadable now: the triage records its coded error when it reaches it.
      return `file:${path}`;
    }
  }
}

/** An instance's study as the store keys it (an invalid Study Instance UID counts as none). */
function studyKeyOf(header: InstanceHeader, path: string): string {
  return studyKey(
    header.studyInstanceUID && isValidUid(header.studyInstanceUID) ? header.studyInstanceUID : null,
    path,
  );
}

export const MAX_INSTANCE_BYTES = MAX_FILE_BYTES;

/** fsync of a folder, so that a new name in it survives a crash (a no-op where not supported). */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a folder; their rename or link is then as durable as they make it.
  } finally {
    await handle.close();
  }
}
