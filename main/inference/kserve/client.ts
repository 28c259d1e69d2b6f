/**
 * A KServe v2 client on Node's own fetch for the models of one pack: before the first batch it
 * checks that each served model is the pack's (the SHA-256 `triage triton-repo` recorded in its
 * config, its inputs and outputs); then it runs batches, retrying what a retry can fix (503, 429,
 * a reset connection or body, a timeout) a bounded number of times with backoff. An inference is
 * idempotent and nothing is kept from an attempt that failed, so a retry is safe.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TriageError, quoted } from '../../errors/index.js';
import {
  HEADER_LENGTH,
  MAX_RESPONSE_HEADER,
  ProtocolError,
  decodeInferResponse,
  encodeInferRequest,
  errorMessage,
  parseHeaderLength,
} from './codec.js';
import type { ExpectedOutput } from './codec.js';

/** What the client knows of a model from the pack: its served name, hash, and tensor dims per image. */
export interface RemoteModel {
  /** The Triton model name (tritonModelName). */
  model: string;
  sha256: string;
  input: { name: string; dims: number[] };
  /** Per-image dims of each output as the ONNX graph gives them; -1: any positive size. */
  outputs: Array<{ name: string; dims: number[] }>;
}

export interface ClientOptions {
  /** Milliseconds one request may take, body included. */
  timeoutMs: number;
  /** Tries per request (1: no retry). */
  attempts: number;
  /** The first retry's delay; each later one doubles, up to 8 times it. */
  backoffMs: number;
}

export const DEFAULT_CLIENT_OPTIONS: ClientOptions = { timeoutMs: 60_000, attempts: 4, backoffMs: 250 };

/** The statuses a retry may fix: the server is busy or starting, or a proxy before it is. */
const RETRY_STATUS = new Set([429, 502, 503, 504]);

/** A failure a retry may fix (the answer's reason is kept for the final message). */
class Transient extends Error {
  override name = 'Transient';
}

/** A served model checked against the pack: how its outputs come back and how big a batch it takes. */
interface Served {
  spec: RemoteModel;
  maxBatch: number;
  /** Per output: the dims the server reports per image, and those the model itself has (a reshape). */
  outputs: Array<{ name: string; served: number[]; model: number[] }>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A dims list of a config (numbers, or int64s written as strings), or null. */
function dimsOf(value: unknown): number[] | null {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 8) return null;
  const dims = value.map((d) => (typeof d === 'string' && /^-?\d{1,9}$/.test(d) ? Number(d) : d));
  return dims.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= -1) ? (dims as number[]) : null;
}

function matches(actual: number[], expected: number[]): boolean {
  return (
    actual.length === expected.length && actual.every((d, k) => d > 0 && (expected[k] === -1 || d === expected[k]))
  );
}

const show = (dims: readonly number[]) => `[${dims.join(', ')}]`;

export class KServeClient {
  readonly base: string;
  private readonly options: ClientOptions;
  private readonly served = new Map<string, Served>();
  private nextId = 1;

  constructor(base: string, options: Partial<ClientOptions> = {}) {
    this.base = base;
    this.options = { ...DEFAULT_CLIENT_OPTIONS, ...options };
  }

  /** The server as a person reads it in a message: host and port. */
  get host(): string {
    return new URL(this.base).host;
  }

  /**
   * Checks a model the server serves against the pack, from its configuration and its metadata;
   * REMOTE_MODEL_MISMATCH when they differ, PROVIDER_UNAVAILABLE when the server cannot be asked.
   */
  async check(spec: RemoteModel): Promise<void> {
    const refuse = (why: string): never => {
      throw new TriageError(
        'REMOTE_MODEL_MISMATCH',
        `The model ${spec.model} on the KServe server ${this.host} is not the pack's: ${why}. Serve the repository that triage triton-repo writes for this pack.`,
      );
    };
    const config = await this.getJson(`/v2/models/${encodeURIComponent(spec.model)}/config`, spec.model);
    const metadata = await this.getJson(`/v2/models/${encodeURIComponent(spec.model)}`, spec.model);
    if (!isRecord(config) || !isRecord(metadata)) return refuse('its configuration or metadata is not a JSON object');
    const parameters = isRecord(config.parameters) ? config.parameters : {};
    const hash = isRecord(parameters.onnx_sha256) ? parameters.onnx_sha256.string_value : undefined;
    if (typeof hash !== 'string') return refuse('its configuration records no onnx_sha256');
    if (hash !== spec.sha256)
      return refuse(`its configuration records SHA-256 ${quoted(hash)}, the pack ${spec.sha256}`);
    const maxBatch = Number(config.max_batch_size);
    if (!Number.isInteger(maxBatch) || maxBatch < 1) return refuse('its configuration does not batch (max_batch_size)');
    const find = (list: unknown, name: string) =>
      Array.isArray(list) ? list.find((t): t is Record<string, unknown> => isRecord(t) && t.name === name) : undefined;
    const input = find(config.input, spec.input.name);
    if (!input) return refuse(`its configuration has no input ${spec.input.name}`);
    const inputDims = dimsOf(input.dims);
    if (input.data_type !== 'TYPE_FP32' || !inputDims || !matches(inputDims, spec.input.dims))
      return refuse(`its input ${spec.input.name} is not FP32 ${show(spec.input.dims)}`);
    const outputs: Served['outputs'] = [];
    for (const want of spec.outputs) {
      const output = find(config.output, want.name);
      if (!output) return refuse(`its configuration has no output ${want.name}`);
      const served = dimsOf(output.dims);
      const model = isRecord(output.reshape) ? dimsOf(output.reshape.shape) : served;
      if (output.data_type !== 'TYPE_FP32' || !served || !model || !matches(model, want.dims))
        return refuse(`its output ${want.name} is not FP32 ${show(want.dims)} per image`);
      if (served.some((d) => d < 1)) return refuse(`its output ${want.name} has a variable size`);
      outputs.push({ name: want.name, served, model });
    }
    // The metadata is what inference answers by: the same tensors, batched.
    for (const [list, name, dims] of [
      [metadata.inputs, spec.input.name, inputDims],
      ...outputs.map((o) => [metadata.outputs, o.name, o.served] as const),
    ] as const) {
      const tensor = find(list, name);
      const shape = tensor ? dimsOf(tensor.shape) : null;
      if (!tensor || tensor.datatype !== 'FP32' || !shape || shape.join() !== [-1, ...dims].join())
        return refuse(`its metadata does not list ${name} as FP32 ${show([-1, ...dims])}`);
    }
    this.served.set(spec.model, { spec, maxBatch, outputs });
  }

  /**
   * Runs a checked model on a batch (split into the server's max_batch_size); resolves with each
   * output's data and dims as the ONNX graph gives them. REMOTE_FAILED when an answer does not
   * come, after the retries, or is malformed.
   */
  async infer(
    model: string,
    data: Float32Array,
    dims: number[],
  ): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
    const served = this.served.get(model);
    if (!served) throw new TriageError('INTERNAL', `the model ${model} was not checked before running`);
    const batch = dims[0];
    const perImage = data.length / batch;
    const result: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const output of served.outputs) {
      const size = output.served.reduce((a, b) => a * b, 1);
      result[output.name] = { data: new Float32Array(batch * size), dims: [batch, ...output.model] };
    }
    for (let start = 0; start < batch; start += served.maxBatch) {
      const count = Math.min(served.maxBatch, batch - start);
      const outputs = await this.inferChunk(served, data.subarray(start * perImage, (start + count) * perImage), [
        count,
        ...dims.slice(1),
      ]);
      for (const output of served.outputs) {
        const size = output.served.reduce((a, b) => a * b, 1);
        result[output.name].data.set(outputs[output.name], start * size);
      }
    }
    return result;
  }

  private async inferChunk(served: Served, data: Float32Array, dims: number[]): Promise<Record<string, Float32Array>> {
    const id = String(this.nextId++);
    const request = encodeInferRequest({
      id,
      inputs: [{ name: served.spec.input.name, datatype: 'FP32', shape: dims, data }],
      outputs: served.outputs.map((o) => o.name),
    });
    const expected: ExpectedOutput[] = served.outputs.map((o) => ({ name: o.name, shape: [dims[0], ...o.served] }));
    const limit = MAX_RESPONSE_HEADER + expected.reduce((sum, o) => sum + 4 * o.shape.reduce((a, b) => a * b, 1), 0);
    const answer = await this.request(
      `/v2/models/${encodeURIComponent(served.spec.model)}/infer`,
      {
        method: 'POST',
        headers: {
          'Content-Type': 'application/octet-stream',
          [HEADER_LENGTH]: String(request.headerLength),
        },
        body: request.body,
      },
      limit,
      served.spec.model,
    );
    try {
      const headerLength = parseHeaderLength(answer.headers.get(HEADER_LENGTH), answer.body.length);
      return decodeInferResponse(answer.body, headerLength, expected, id);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      throw new TriageError(
        'REMOTE_FAILED',
        `The KServe server ${this.host} answered ${served.spec.model} with a malformed result (${error.message}); the batch's images were not analysed.`,
      );
    }
  }

  private async getJson(path: string, model: string): Promise<unknown> {
    const answer = await this.request(path, { method: 'GET' }, 1024 * 1024, model, 'PROVIDER_UNAVAILABLE');
    try {
      return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(answer.body));
    } catch {
      return null;
    }
  }

  /**
   * One request, tried up to `attempts` times: a retryable status, a reset, a body cut short or a
   * timeout waits and tries again; other failures end it at once. A body longer than `limit`
   * bytes is refused before it is read whole.
   */
  private async request(
    path: string,
    init: RequestInit,
    limit: number,
    model: string,
    code: 'REMOTE_FAILED' | 'PROVIDER_UNAVAILABLE' = 'REMOTE_FAILED',
  ): Promise<{ headers: Headers; body: Uint8Array }> {
    const { attempts, backoffMs, timeoutMs } = this.options;
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        // A redirect is not followed (it would send the images' tensors to a host nobody named): it is
        // answered as the HTTP error it is, and not retried.
        const response = await fetch(`${this.base}${path}`, {
          ...init,
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
        const body = await readBounded(response, limit);
        if (response.status === 200) return { headers: response.headers, body };
        const reason = errorMessage(body);
        const said = `HTTP ${response.status}${reason === null ? '' : ` ${quoted(reason)}`}`;
        if (!RETRY_STATUS.has(response.status)) {
          if (path.endsWith('/infer'))
            throw new TriageError(code, `The KServe server ${this.host} refused to run ${model} (${said}).`);
          throw new TriageError(
            'REMOTE_MODEL_MISMATCH',
            `The KServe server ${this.host} does not serve the model ${model} (${said}). Serve the repository that triage triton-repo writes for this pack.`,
          );
        }
        throw new Transient(said);
      } catch (error) {
        if (error instanceof TriageError) throw error;
        if (error instanceof ProtocolError)
          throw new TriageError(code, `The KServe server ${this.host}: ${error.message}.`);
        last = error instanceof Transient ? error.message : describeNetworkError(error);
      }
      if (attempt < attempts) await sleep(Math.min(backoffMs * 2 ** (attempt - 1), backoffMs * 8));
    }
    throw new TriageError(
      code,
      `The KServe server ${this.host} did not answer ${model} after ${attempts} tries (last: ${last}). Check that the server is running and reachable, then scan again.`,
    );
  }
}

/** A network failure in words: a timeout, a refused or reset connection, a body cut short. */
function describeNetworkError(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timed out';
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return `${cause.code}`;
  return error instanceof Error ? error.message.slice(0, 120) : 'network failure';
}

/** The body of a response, refused past `limit` bytes (by its Content-Length, or as it streams). */
async function readBounded(response: Response, limit: number): Promise<Uint8Array> {
  const declared = response.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new ProtocolError(`its answer of ${declared} bytes exceeds the ${limit} expected`);
  }
  if (!response.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw new ProtocolError(`its answer exceeds the ${limit} bytes expected`);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
