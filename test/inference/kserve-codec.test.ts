/**
 * The KServe v2 codec on the protocol documents' own examples: Triton's binary tensor data
 * extension (docs/protocol/extension_binary_data.md, "Examples": a UINT32 [2, 2] and a BOOL [3]
 * input as 19 bytes after the JSON, an FP32 [3, 2] output as 24 bytes after it) and the KServe v2
 * required API's JSON response (kserve docs/predict-api/v2/required_api.md, "Inference Request
 * Examples"). Then the hostile answers a server could send.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeInferResponse,
  encodeInferRequest,
  errorMessage,
  parseHeaderLength,
  ProtocolError,
} from '../../main/inference/kserve/codec.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** A body as a server sends it: the JSON header, then raw bytes; with its header length. */
function answer(header: unknown, ...sections: Uint8Array[]): { body: Uint8Array; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  const body = Buffer.concat([json, ...sections]);
  return { body: new Uint8Array(body), headerLength: json.length };
}

test("the binary extension's example request: JSON header, then 16 + 3 bytes of inputs", () => {
  const input0 = new Uint32Array([1, 2, 3, 4]);
  const input1 = new Uint8Array([1, 0, 1]); // BOOL: one byte each
  const { body, headerLength } = encodeInferRequest({
    inputs: [
      { name: 'input0', datatype: 'UINT32', shape: [2, 2], data: input0 },
      { name: 'input1', datatype: 'BOOL', shape: [3], data: input1 },
    ],
    outputs: ['output0'],
  });
  // The document's JSON, less "model_name" (the model is in the URL; the document marks it optional elsewhere).
  assert.deepEqual(JSON.parse(text(body.subarray(0, headerLength))), {
    inputs: [
      { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
      { name: 'input1', shape: [3], datatype: 'BOOL', parameters: { binary_data_size: 3 } },
    ],
    outputs: [{ name: 'output0', parameters: { binary_data: true } }],
  });
  // Content-Length is <xx+19>: the JSON's length plus the two tensors, little-endian, in order.
  assert.equal(body.length, headerLength + 19);
  const tail = Buffer.from(body.subarray(headerLength));
  assert.deepEqual(
    [0, 4, 8, 12].map((o) => tail.readUInt32LE(o)),
    [1, 2, 3, 4],
  );
  assert.deepEqual([...tail.subarray(16)], [1, 0, 1]);
});

test('a request refuses data whose size is not its shape', () => {
  assert.throws(
    () =>
      encodeInferRequest({
        inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: new Float32Array(3) }],
        outputs: [],
      }),
    RangeError,
  );
});

test("the binary extension's example response: an FP32 [3, 2] output as 24 bytes after the JSON", () => {
  const values = [1.0, 1.1, 2.0, 2.1, 3.0, 3.1];
  const bytes = Buffer.alloc(24);
  values.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  const { body, headerLength } = answer(
    { outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', parameters: { binary_data_size: 24 } }] },
    bytes,
  );
  assert.equal(parseHeaderLength(String(headerLength), body.length), headerLength);
  const outputs = decodeInferResponse(body, headerLength, [{ name: 'output0', shape: [3, 2] }]);
  assert.deepEqual([...outputs.output0], values.map(Math.fround));
});

test("the v2 API's example JSON response (id 42, output0 as JSON data) decodes without a header length", () => {
  // The document's text lacks the comma after "id" : "42"; with it, this is its response.
  const body = Buffer.from(`{
      "id" : "42",
      "outputs" : [
        {
          "name" : "output0",
          "shape" : [ 3, 2 ],
          "datatype"  : "FP32",
          "data" : [ 1.0, 1.1, 2.0, 2.1, 3.0, 3.1 ]
        }
      ]
    }`);
  const outputs = decodeInferResponse(new Uint8Array(body), null, [{ name: 'output0', shape: [3, 2] }], '42');
  assert.deepEqual([...outputs.output0], [1.0, 1.1, 2.0, 2.1, 3.0, 3.1].map(Math.fround));
  // The same answer is refused for another request.
  assert.throws(
    () => decodeInferResponse(new Uint8Array(body), null, [{ name: 'output0', shape: [3, 2] }], '43'),
    ProtocolError,
  );
});

test('hostile answers are refused before their data is used', () => {
  const expected = [{ name: 'y', shape: [2, 2] }];
  const data = new Uint8Array(16);
  const good = { outputs: [{ name: 'y', shape: [2, 2], datatype: 'FP32', parameters: { binary_data_size: 16 } }] };
  const cases: Array<[string, () => unknown]> = [
    ['header length beyond the body', () => parseHeaderLength('999', 10)],
    ['header length not a number', () => parseHeaderLength('12abc', 100)],
    ['header length past the bound', () => parseHeaderLength(String(10 ** 8), 10 ** 9)],
    ['not JSON', () => decodeInferResponse(new Uint8Array(Buffer.from('{"outputs": [')), null, expected)],
    [
      'wrong datatype',
      () => {
        const a = answer({ outputs: [{ ...good.outputs[0], datatype: 'FP64' }] }, data);
        return decodeInferResponse(a.body, a.headerLength, expected);
      },
    ],
    [
      'wrong shape',
      () => {
        const a = answer({ outputs: [{ ...good.outputs[0], shape: [4, 1] }] }, data);
        return decodeInferResponse(a.body, a.headerLength, expected);
      },
    ],
    [
      'size not the shape',
      () => {
        const a = answer(
          { outputs: [{ ...good.outputs[0], parameters: { binary_data_size: 12 } }] },
          data.subarray(0, 12),
        );
        return decodeInferResponse(a.body, a.headerLength, expected);
      },
    ],
    [
      'body cut short',
      () => {
        const a = answer(good, data.subarray(0, 8));
        return decodeInferResponse(a.body, a.headerLength, expected);
      },
    ],
    [
      'bytes left over',
      () => {
        const a = answer(good, data, new Uint8Array(4));
        return decodeInferResponse(a.body, a.headerLength, expected);
      },
    ],
    [
      'an output not asked for',
      () => {
        const a = answer({ outputs: [...good.outputs, { ...good.outputs[0], name: 'z' }] }, data, data);
        return decodeInferResponse(a.body, a.headerLength, expected);
      },
    ],
    [
      'the output missing',
      () => {
        const a = answer({ outputs: [] });
        return decodeInferResponse(a.body, a.headerLength, expected);
      },
    ],
    [
      'JSON data of the wrong count',
      () => {
        const a = answer({ outputs: [{ name: 'y', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3] }] });
        return decodeInferResponse(a.body, a.headerLength, expected);
      },
    ],
  ];
  for (const [what, run] of cases) assert.throws(run, ProtocolError, what);
  // And the good one passes.
  const a = answer(good, data);
  assert.equal(decodeInferResponse(a.body, a.headerLength, expected).y.length, 4);
});

test("an error answer's message is read from its JSON, and nothing else is", () => {
  assert.equal(errorMessage(new Uint8Array(Buffer.from('{"error": "model busy"}'))), 'model busy');
  assert.equal(errorMessage(new Uint8Array(Buffer.from('<html>503</html>'))), null);
});
