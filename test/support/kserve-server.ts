/**
 * A KServe v2 server for tests, on 127.0.0.1, written from the protocol documents (not from the
 * product's codec): it serves a Triton model repository (`triage triton-repo`'s output) with
 * onnxruntime-node on the CPU, answers health, model metadata, model configuration (the JSON form
 * of config.pbtxt) and binary-extension inference, and injects faults on request.
 */
import ort from 'onnxruntime-node';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** text-format protobuf as the config.pbtxt files use it: fields, nested messages, lists. */
export function parsePbtxt(source: string): Record<string, unknown> {
  const tokens = source.match(/"(?:[^"\\]|\\.)*"|[{}[\]:,]|[^\s{}[\]:,"]+/g) ?? [];
  let at = 0;
  const value = (): unknown => {
    const token = tokens[at++];
    if (token === '{') return message('}');
    if (token === '[') {
      const list: unknown[] = [];
      while (tokens[at] !== ']') {
        list.push(value());
        if (tokens[at] === ',') at++;
      }
      at++;
      return list;
    }
    if (token.startsWith('"')) return JSON.parse(token);
    return /^-?\d+(\.\d+)?$/.test(token) ? Number(token) : token;
  };
  const message = (end: string | null): Record<string, unknown> => {
    const fields: Record<string, unknown> = {};
    while (at < tokens.length && tokens[at] !== end) {
      const name = tokens[at++];
      if (tokens[at] === ':') at++;
      const v = value();
      // A repeated field written `name [ ... ]` or twice: kept as a list.
      if (name in fields) fields[name] = [...(fields[name] as unknown[]), ...(Array.isArray(v) ? v : [v])];
      else fields[name] = v;
    }
    at++;
    return fields;
  };
  return message(null);
}

export type Fault = '503' | 'reset-mid-body' | 'hang' | 'bad-shape' | 'huge' | 'redirect';

interface Model {
  name: string;
  config: Record<string, unknown>;
  session: ort.InferenceSession;
}

type Tensor = { name: string; data_type: string; dims: number[]; reshape?: { shape: number[] } };

export class KServeTestServer {
  readonly models = new Map<string, Model>();
  /** Faults for the next inference requests, one each, in order. */
  readonly faults: Fault[] = [];
  /** Redirects answered (the 'redirect' fault), and requests that followed one. */
  redirected = 0;
  followed = 0;
  /** Changes the model configuration served (wrong hash, wrong dims). */
  configOverride: ((name: string, config: Record<string, unknown>) => Record<string, unknown>) | null = null;
  inferRequests = 0;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  static async start(repository: string): Promise<KServeTestServer> {
    const server = new KServeTestServer();
    for (const name of readdirSync(repository).sort()) {
      const config = parsePbtxt(readFileSync(join(repository, name, 'config.pbtxt'), 'utf8'));
      const session = await ort.InferenceSession.create(join(repository, name, '1', 'model.onnx'), {
        executionProviders: ['cpu'],
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        enableMemPattern: false,
        logSeverityLevel: 4,
      });
      server.models.set(name, { name, config, session });
    }
    server.server = createServer((request, response) => {
      // A handler that throws answers 500 (and fails the test that met it), never ends the process.
      server.handle(request, response).catch((error: Error) => {
        if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ error: error.message }));
      });
    });
    server.server.on('connection', (socket) => {
      server.sockets.add(socket);
      socket.on('close', () => server.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.server!.listen(0, '127.0.0.1', resolve));
    return server;
  }

  get url(): string {
    const address = this.server!.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    return `http://127.0.0.1:${address.port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    for (const model of this.models.values()) await model.session.release();
  }

  /** The model configuration as Triton's GET .../config answers it: config.pbtxt as JSON. */
  configJson(model: Model): Record<string, unknown> {
    const config = structuredClone(model.config);
    // A protobuf map (repeated key/value entries in text format) is a JSON object.
    const entries = config.parameters === undefined ? [] : [config.parameters].flat();
    config.parameters = Object.fromEntries(
      (entries as Array<{ key: string; value: unknown }>).map((entry) => [entry.key, entry.value]),
    );
    return this.configOverride ? this.configOverride(model.name, config) : config;
  }

  private tensors(config: Record<string, unknown>, field: 'input' | 'output'): Tensor[] {
    const list = config[field];
    return (Array.isArray(list) ? list : [list]) as Tensor[];
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const json = (status: number, body: unknown) => {
      const bytes = Buffer.from(JSON.stringify(body));
      response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': bytes.length });
      response.end(bytes);
    };
    const url = request.url ?? '';
    if (url.includes('elsewhere=1')) this.followed++;
    if (request.method === 'GET' && url === '/v2/health/ready') return void response.writeHead(200).end();
    const match = /^\/v2\/models\/([^/]+)(\/config|\/infer)?$/.exec(url);
    const model = match ? this.models.get(decodeURIComponent(match[1])) : undefined;
    if (!match || !model) return json(400, { error: `Request for unknown model: '${match?.[1] ?? url}' is not found` });
    const config = this.configJson(model);
    if (request.method === 'GET' && match[2] === '/config') return json(200, config);
    if (request.method === 'GET' && match[2] === undefined) {
      const meta = (t: Tensor) => ({ name: t.name, datatype: 'FP32', shape: [-1, ...t.dims] });
      return json(200, {
        name: model.name,
        versions: ['1'],
        platform: config.platform,
        inputs: this.tensors(config, 'input').map(meta),
        outputs: this.tensors(config, 'output').map(meta),
      });
    }
    if (request.method !== 'POST' || match[2] !== '/infer') return json(405, { error: 'method not allowed' });
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    this.inferRequests++;
    const fault = this.faults.shift();
    if (fault === 'hang') return; // Never answers; the socket is destroyed at close.
    if (fault === '503') return json(503, { error: 'server busy' });
    if (fault === 'redirect') {
      // Elsewhere: a client that followed it would send the images there.
      this.redirected++;
      response.writeHead(307, { location: `${this.url}/v2/models/${match[1]}/infer?elsewhere=1` });
      response.end();
      return;
    }
    const body = Buffer.concat(chunks);
    const headerLength = Number(request.headers['inference-header-content-length']);
    const header = JSON.parse(body.subarray(0, headerLength).toString('utf8')) as {
      id?: string;
      inputs: Array<{ name: string; shape: number[]; datatype: string; parameters: { binary_data_size: number } }>;
      outputs: Array<{ name: string; parameters?: { binary_data?: boolean } }>;
    };
    const feeds: Record<string, ort.Tensor> = {};
    let offset = headerLength;
    for (const input of header.inputs) {
      const size = input.parameters.binary_data_size;
      const data = new Float32Array(size / 4);
      new Uint8Array(data.buffer).set(body.subarray(offset, offset + size));
      offset += size;
      feeds[input.name] = new ort.Tensor('float32', data, input.shape);
    }
    const results = await model.session.run(
      feeds,
      header.outputs.map((o) => o.name),
    );
    const batch = header.inputs[0].shape[0];
    const outputs = header.outputs.map((o) => {
      const spec = this.tensors(config, 'output').find((t) => t.name === o.name)!;
      const data = results[o.name].data as Float32Array;
      const shape = fault === 'bad-shape' ? [batch, ...spec.dims, 1] : [batch, ...spec.dims];
      return {
        name: o.name,
        datatype: 'FP32',
        shape,
        bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      };
    });
    const head = Buffer.from(
      JSON.stringify({
        model_name: model.name,
        model_version: '1',
        ...(header.id === undefined ? {} : { id: header.id }),
        outputs: outputs.map((o) => ({
          name: o.name,
          datatype: o.datatype,
          shape: o.shape,
          parameters: { binary_data_size: o.bytes.length },
        })),
      }),
    );
    const padding = fault === 'huge' ? [Buffer.alloc(4 * 1024 * 1024)] : [];
    const full = Buffer.concat([head, ...outputs.map((o) => o.bytes), ...padding]);
    response.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Inference-Header-Content-Length': head.length,
      'Content-Length': full.length,
    });
    if (fault === 'reset-mid-body') {
      response.write(full.subarray(0, full.length >> 1), () => request.socket.destroy());
      return;
    }
    response.end(full);
  }
}
