/**
 * The main side of the window's API, as pure decisions: who may call (the app's own main frame in
 * our window, nothing else), what may be sent (every payload parsed by the contract's schema), and
 * what comes back (a reply envelope with a coded error, never a stack). `install.ts` registers
 * one `ipcMain.handle` per contract channel with `handleInvoke`; the preload unwraps the envelope.
 */
import { TriageError } from '../../errors/index.js';
import { FilePath } from '../api/contract.js';
import type { ApiError, Envelope } from '../api/contract.js';
import { errorEnvelope, validateRequest } from '../api/dispatch.js';
import type { RequestSchemas } from '../api/dispatch.js';
import { isAppUrl } from './origin.js';

export { invokeChannel, eventChannel, GRANT_PATH_CHANNEL } from '../../common/index.js';
/** Validation is the engine side's own (`dispatch` runs it again there), so the wording is one. */
export { validateRequest };
export type { RequestSchemas };

export function replyError(thrown: unknown): Envelope<never> {
  return errorEnvelope(thrown);
}

/** The parts of Electron's IpcMainInvokeEvent the checks read (WebFrameMain and WebContents). */
export interface FrameLike {
  readonly url: string;
  readonly parent: unknown;
}
export interface InvokeEventLike {
  readonly sender: { readonly id: number };
  readonly senderFrame: FrameLike | null;
}

/**
 * The sender must be our window's WebContents, its main frame (no subframe: the CSP allows none,
 * and a frame that got in anyway must not reach the engine), showing the app origin. The frame
 * is null when it navigated or was destroyed before the message arrived: refused as well.
 */
export function checkSender(event: InvokeEventLike, windowContentsId: number | null): TriageError | null {
  const frame = event.senderFrame;
  if (frame === null || frame === undefined)
    return new TriageError('FORBIDDEN_SENDER', 'The request came from a frame that no longer exists.');
  if (windowContentsId === null || event.sender.id !== windowContentsId) {
    return new TriageError('FORBIDDEN_SENDER', 'The request came from a window other than the application window.');
  }
  if (frame.parent !== null)
    return new TriageError('FORBIDDEN_SENDER', 'The request came from a subframe, not the application page.');
  if (!isAppUrl(frame.url))
    return new TriageError('FORBIDDEN_SENDER', 'The request came from a page outside the application.');
  return null;
}

export interface InvokeContext {
  schemas: RequestSchemas;
  /** The id of our window's WebContents (null before the window exists or after it closed). */
  windowContentsId: () => number | null;
  /** Runs a validated request (relayed to the engine process); resolves to its envelope. */
  run: (channel: string, request: unknown) => Promise<Envelope>;
  /**
   * The window's own checks of a validated request (window-policy.ts: what it may scan): null to
   * run it, else its coded refusal. The sender's WebContents id says whose grants apply.
   */
  check?: (windowId: number, channel: string, request: unknown) => Promise<ApiError | null>;
  /** Refusals are logged (channel and code only) so that an attack attempt leaves a trace. */
  onRefused?: (channel: string, error: ApiError) => void;
}

/** One invoke from the window, checked, validated and run; always resolves to a reply envelope. */
export async function handleInvoke(
  context: InvokeContext,
  channel: string,
  event: InvokeEventLike,
  payload: unknown,
): Promise<Envelope> {
  const refused = checkSender(event, context.windowContentsId());
  if (refused) {
    context.onRefused?.(channel, refused);
    return replyError(refused);
  }
  const validated = validateRequest(context.schemas, channel, payload);
  if (!validated.ok) {
    context.onRefused?.(channel, validated.error);
    return replyError(validated.error);
  }
  try {
    const checked = await context.check?.(event.sender.id, channel, validated.request);
    if (checked) {
      context.onRefused?.(channel, checked);
      return { ok: false, error: { code: checked.code, message: checked.message } };
    }
    return await context.run(channel, validated.request);
  } catch (thrown) {
    return replyError(thrown);
  }
}

/**
 * The preload's grant of a dropped file's path (GRANT_PATH_CHANNEL, sent synchronously so that
 * it lands before the page's next invoke): from our window's main frame only, an absolute path
 * only. Returns whether it was granted (the preload's sendSync answer).
 */
export function handleGrant(
  context: Pick<InvokeContext, 'windowContentsId' | 'onRefused'>,
  event: InvokeEventLike,
  path: unknown,
  grant: (windowId: number, path: string) => void,
): boolean {
  const refused = checkSender(event, context.windowContentsId());
  if (refused) {
    context.onRefused?.('grant-path', refused);
    return false;
  }
  const parsed = FilePath.safeParse(path);
  if (!parsed.success) {
    context.onRefused?.('grant-path', { code: 'INVALID_REQUEST', message: 'A granted path must be absolute.' });
    return false;
  }
  grant(event.sender.id, parsed.data);
  return true;
}
