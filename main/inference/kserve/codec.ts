/**
 * The KServe v2 inference protocol over HTTP with Triton's binary tensor data extension: an
 * inference request as one JSON header followed by the input tensors' bytes
 * (Inference-Header-Content-Length gives the header's length), and the response read back the
 * same way. Responses are hostile: the header's length, every output's name, datatype, shape and
 * byte count are checked before a byte of tensor data is used.
 * Documents: kserve/kserve docs/predict-api/v2/required_api.md, and Triton's
 * docs/protocol/extension_binary_data.md.
 */
import { endianness } from 'node:os';

/** Bytes per element of the v2 datatypes this codec handles. */
export const DATATYPE_BYTES = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
} as const;
export type Datatype = keyof typeof DATATYPE_BYTES;

export const HEADER_LENGTH = 'Inference-Header-Content-Length';

/** The longest JSON header a response may have (its shapes and names; the data travel as bytes). */
export const MAX_RESPONSE_HEADER = 64 * 1024;

export interface RequestInput {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** Little-endian bytes, row-major, as many as the shape and datatype make. */
  data: ArrayBufferView;
}

export interface EncodedRequest {
  /** The whole body: JSON header, then each input's bytes in order. */
  body: Uint8Array;
  /** The JSON header's length in bytes (the Inference-Header-Content-Length header). */
  headerLength: number;
}

/** A response output as it must be: its name, FP32, and the full shape of the batch. */
export interface ExpectedOutput {
  name: string;
  shape: number[];
}

/** A protocol violation in a server's answer (never retried: the same server would repeat it). */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

function elements(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

if (endianness() !== 'LE') {
  // Typed arrays hold this machine's byte order; the protocol's is little-endian.
  throw new Error('the KServe codec needs a little-endian machine');
}

/** Encodes an inference request whose inputs all travel as binary data and whose outputs are asked for as binary. */
export function encodeInferRequest(request: {
  id?: string;
  inputs: RequestInput[];
  outputs: string[];
}): EncodedRequest {
  const inputs = request.inputs.map((input) => {
    const bytes = elements(input.shape) * DATATYPE_BYTES[input.datatype];
    if (bytes !== input.data.byteLength) {
      throw new RangeError(
        `input ${input.name}: shape [${input.shape.join(', ')}] of ${input.datatype} is ${bytes} bytes, the data ${input.data.byteLength}`,
      );
    }
    return {
      name: input.name,
      shape: input.shape,
      datatype: input.datatype,
      parameters: { binary_data_size: bytes },
    };
  });
  const header = {
    ...(request.id === undefined ? {} : { id: request.id }),
    inputs,
    outputs: request.outputs.map((name) => ({ name, parameters: { binary_data: true } })),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const total = json.length + request.inputs.reduce((sum, input) => sum + input.data.byteLength, 0);
  const body = new Uint8Array(total);
  body.set(json, 0);
  let offset = json.length;
  for (const input of request.inputs) {
    body.set(new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength), offset);
    offset += input.data.byteLength;
  }
  return { body, headerLength: json.length };
}

/**
 * The Inference-Header-Content-Length of a response: null when absent (a JSON-only answer), a
 * ProtocolError when it is not a whole number within the body and the header bound.
 */
export function parseHeaderLength(value: string | null, bodyLength: number): number | null {
  if (value === null) return null;
  if (!/^\d{1,9}$/.test(value.trim())) throw new ProtocolError(`${HEADER_LENGTH} is not a byte count`);
  const length = Number(value.trim());
  if (length > bodyLength) throw new ProtocolError(`${HEADER_LENGTH} ${length} exceeds the body's ${bodyLength} bytes`);
  if (length > MAX_RESPONSE_HEADER)
    throw new ProtocolError(`${HEADER_LENGTH} ${length} exceeds ${MAX_RESPONSE_HEADER} bytes`);
  return length;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sameShape(a: readonly unknown[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, k) => dim === b[k]);
}

/** JSON tensor data (flat or nested) as FP32, refusing anything but `count` finite-or-not numbers. */
function jsonData(data: unknown, count: number, name: string): Float32Array {
  const out = new Float32Array(count);
  let n = 0;
  const walk = (value: unknown, depth: number): void => {
    if (depth > 16) throw new ProtocolError(`output ${name}: data nested too deeply`);
    if (Array.isArray(value)) {
      for (const item of value) walk(item, depth + 1);
      return;
    }
    if (typeof value !== 'number') throw new ProtocolError(`output ${name}: data holds a non-number`);
    if (n >= count) throw new ProtocolError(`output ${name}: more data than its shape`);
    out[n++] = value;
  };
  walk(data, 0);
  if (n !== count) throw new ProtocolError(`output ${name}: ${n} values for a shape of ${count}`);
  return out;
}

/**
 * Decodes an inference response body into the expected FP32 outputs, by name. `headerLength` is
 * the response's Inference-Header-Content-Length (null: the body is JSON alone). Every output the
 * header lists must be expected, FP32, of the expected shape, and its binary_data_size that
 * shape's bytes; the binary sections must fill the body exactly. `id`, when the request had one,
 * must come back.
 */
export function decodeInferResponse(
  body: Uint8Array,
  headerLength: number | null,
  expected: ExpectedOutput[],
  id?: string,
): Record<string, Float32Array> {
  const jsonLength = headerLength ?? body.length;
  if (jsonLength > MAX_RESPONSE_HEADER) throw new ProtocolError(`the JSON answer exceeds ${MAX_RESPONSE_HEADER} bytes`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(0, jsonLength)));
  } catch {
    throw new ProtocolError('the answer header is not JSON');
  }
  if (!isRecord(header) || !Array.isArray(header.outputs)) throw new ProtocolError('the answer has no outputs list');
  if (id !== undefined && header.id !== id)
    throw new ProtocolError('the answer is for another request (its id differs)');
  const result: Record<string, Float32Array> = {};
  let offset = jsonLength;
  for (const output of header.outputs as unknown[]) {
    if (!isRecord(output) || typeof output.name !== 'string') throw new ProtocolError('an output has no name');
    const name = output.name;
    const want = expected.find((e) => e.name === name);
    if (!want) throw new ProtocolError('the answer has an output that was not asked for');
    if (name in result) throw new ProtocolError(`output ${name} appears twice`);
    if (output.datatype !== 'FP32') throw new ProtocolError(`output ${name} is not FP32`);
    if (!Array.isArray(output.shape) || !sameShape(output.shape, want.shape)) {
      const shown = Array.isArray(output.shape) ? output.shape.slice(0, 8).map(Number).join(', ') : '?';
      throw new ProtocolError(`output ${name} has shape [${shown}], expected [${want.shape.join(', ')}]`);
    }
    const count = elements(want.shape);
    const parameters = isRecord(output.parameters) ? output.parameters : {};
    const size = parameters.binary_data_size;
    if (size === undefined) {
      result[name] = jsonData(output.data, count, name);
      continue;
    }
    if (size !== count * 4) throw new ProtocolError(`output ${name}: binary_data_size does not match its shape`);
    if (offset + size > body.length) throw new ProtocolError(`output ${name}: the body ends before its data`);
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(body.subarray(offset, offset + size));
    result[name] = data;
    offset += size;
  }
  if (offset !== body.length) throw new ProtocolError('the body holds bytes no output accounts for');
  for (const want of expected) if (!(want.name in result)) throw new ProtocolError(`output ${want.name} is missing`);
  return result;
}

/** A server's error answer ({"error": "..."}), at a bounded length, for a message; null when none. */
export function errorMessage(body: Uint8Array): string | null {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(body.subarray(0, 4096)));
    return isRecord(parsed) && typeof parsed.error === 'string' ? parsed.error : null;
  } catch {
    return null;
  }
}
