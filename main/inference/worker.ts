/**
 * The inference worker: holds the ONNX sessions and runs them. `session.run` and
 * `InferenceSession.create` are synchronous native calls that block their thread, so they live
 * here and never on the caller's thread (the CLI's event loop, Electron's main process). With
 * the kserve provider a session is a model on a KServe v2 server, checked against the pack when
 * loaded and run over HTTP here, where the local sessions would run.
 */
import ort from 'onnxruntime-node';
import { parentPort } from 'node:worker_threads';
import { TriageError } from '../errors/index.js';
import { KServeClient } from './kserve/client.js';
import type { ProviderAttempt, SessionSpec, TensorData, WorkerRequest, WorkerResponse } from './protocol.js';
import { candidates, kserveEndpoint, unavailableReason } from './providers.js';
import type { Provider } from '../common/index.js';

const port = parentPort!;
// Failed provider probes are reported through the service's log with their reason; onnxruntime's
// own console output would only repeat them without structure.
ort.env.logLevel = 'fatal';
/** A model the worker runs: an onnxruntime session here, or a model on a KServe server. */
interface Session {
  run(input: TensorData, outputNames: string[]): Promise<Record<string, TensorData>>;
  release(): Promise<void>;
}

function localSession(session: ort.InferenceSession, spec: SessionSpec): Session {
  return {
    async run(input, outputNames) {
      const feeds = { [spec.inputName]: new ort.Tensor('float32', input.data, input.dims) };
      const results = await session.run(feeds, outputNames);
      const outputs: Record<string, TensorData> = {};
      for (const name of outputNames) {
        const tensor = results[name];
        const data =
          tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as ArrayLike<number>);
        outputs[name] = { data, dims: [...tensor.dims] };
      }
      return outputs;
    },
    release: () => session.release(),
  };
}

function remoteSession(client: KServeClient, model: string): Session {
  return {
    run: (input) => client.infer(model, input.data, input.dims),
    release: () => Promise.resolve(),
  };
}

/** Timeouts of the kserve provider: TRIAGE_KSERVE_TIMEOUT_S seconds per request (default 60). */
function kserveClient(base: string): KServeClient {
  const seconds = Number(process.env.TRIAGE_KSERVE_TIMEOUT_S);
  return new KServeClient(base, Number.isFinite(seconds) && seconds > 0 ? { timeoutMs: seconds * 1000 } : {});
}

const sessions = new Map<string, { session: Session; spec: SessionSpec }>();
/** The KServe server's base URL when the kserve provider is loaded. */
let endpoint: string | null = null;
/** The provider and thread count the sessions were created with, once loaded. */
let loadedProvider: Provider | null = null;
let loadedThreads = 1;

function reply(message: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** The pack's models on a KServe server, each checked against the pack before any is run. */
async function connectAll(specs: SessionSpec[], base: string): Promise<void> {
  const client = kserveClient(base);
  for (const spec of specs) {
    if (!spec.remote) throw new Error(`${spec.memberId}: no served model is known for it`);
    await client.check({
      ...spec.remote,
      outputs: spec.remote.outputs.filter((o) => spec.outputNames.includes(o.name)),
    });
    sessions.set(spec.memberId, { session: remoteSession(client, spec.remote.model), spec });
  }
}

async function createAll(specs: SessionSpec[], provider: Provider, threads: number): Promise<void> {
  if (provider === 'kserve') {
    if (endpoint === null) throw new Error('the kserve provider needs its server: kserve:http://HOST:PORT');
    return connectAll(specs, endpoint);
  }
  // Each session has its own intra-op thread pool, whose threads spin for a while after a run.
  // Sessions run in turn (an ensemble's members, the gate model) would each leave their pool
  // spinning on the cores the next one needs: on 2 cores with 2 threads a DenseNet-121 member
  // cost 19.2 ms per image between two others against 15.5 ms alone, and 15.9 ms with spinning
  // off. A session alone keeps onnxruntime's default. (With one thread there is no pool.)
  const spinning = specs.length > 1 ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {};
  for (const spec of specs) {
    const session = await ort.InferenceSession.create(spec.onnxPath, {
      executionProviders: [provider],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      // Without memory patterns each run takes its activations from the CPU arena tensor by tensor.
      // With them, a session's second run asks the arena for one block sized by the pattern the
      // first run recorded, which the first run's chunks cannot hold, so each arena kept both: a
      // three-DenseNet-121 ensemble scanning 300 radiographs peaked at 1,067 to 1,090 MiB with
      // them and 814 to 824 MiB without, at the same rate and with the same findings (build VM,
      // docs/performance.md).
      enableMemPattern: false,
      logSeverityLevel: 4,
      ...spinning,
    });
    const missing = [spec.inputName, ...spec.outputNames].filter(
      (name) => !session.inputNames.includes(name) && !session.outputNames.includes(name),
    );
    if (missing.length > 0) {
      throw new Error(
        `${spec.memberId}: the ONNX graph has no tensor named ${missing.join(', ')} (its manifest names it)`,
      );
    }
    sessions.set(spec.memberId, { session: localSession(session, spec), spec });
  }
}

async function load(request: Extract<WorkerRequest, { type: 'load' }>): Promise<void> {
  const attempts: ProviderAttempt[] = [];
  endpoint = kserveEndpoint(request.choice);
  for (const provider of candidates(request.choice)) {
    const unavailable = unavailableReason(provider);
    if (unavailable) {
      attempts.push({ provider, reason: unavailable });
      continue;
    }
    try {
      await createAll(request.sessions, provider, request.threads);
      loadedProvider = provider;
      loadedThreads = request.threads;
      reply({ type: 'loaded', provider, attempts });
      return;
    } catch (error) {
      for (const { session } of sessions.values()) await session.release().catch(() => undefined);
      sessions.clear();
      attempts.push({ provider, reason: error instanceof Error ? error.message.split('\n')[0] : String(error) });
      if (error instanceof TriageError && error.code !== 'PROVIDER_UNAVAILABLE') {
        // A server that answers with the wrong models is no missing provider: say what differs.
        reply({ type: 'load-failed', attempts, code: error.code, message: error.message });
        return;
      }
    }
  }
  reply({ type: 'load-failed', attempts });
}

async function run(request: Extract<WorkerRequest, { type: 'run' }>): Promise<void> {
  const entry = sessions.get(request.memberId);
  if (!entry) {
    reply({ type: 'run-failed', id: request.id, message: `no session for member ${request.memberId}` });
    return;
  }
  try {
    const started = performance.now();
    const outputs = await entry.session.run(request.input, entry.spec.outputNames);
    const runMs = performance.now() - started;
    const transfer = Object.values(outputs).map((tensor) => tensor.data.buffer as ArrayBuffer);
    reply({ type: 'result', id: request.id, outputs, runMs }, transfer);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    reply({
      type: 'run-failed',
      id: request.id,
      message,
      ...(error instanceof TriageError ? { code: error.code } : {}),
    });
  }
}

/**
 * Rebuilds the sessions with another intra-op thread count (onnxruntime fixes it when a session is
 * created). The old sessions are released first, so that two sets of weights and arenas are never
 * held at once; if the new ones cannot be created, the old thread count is tried again.
 */
async function setThreads(request: Extract<WorkerRequest, { type: 'threads' }>): Promise<void> {
  const started = performance.now();
  const specs = [...sessions.values()].map(({ spec }) => spec);
  const provider = loadedProvider;
  if (!provider) {
    reply({ type: 'threads-failed', id: request.id, message: 'no models are loaded' });
    return;
  }
  if (provider === 'kserve') {
    // The server's threads are its own.
    reply({ type: 'threads-set', id: request.id, ms: 0 });
    return;
  }
  for (const { session } of sessions.values()) await session.release().catch(() => undefined);
  sessions.clear();
  try {
    await createAll(specs, provider, request.threads);
    loadedThreads = request.threads;
    reply({ type: 'threads-set', id: request.id, ms: performance.now() - started });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    for (const { session } of sessions.values()) await session.release().catch(() => undefined);
    sessions.clear();
    // The runs after this one need sessions: those that were created before.
    await createAll(specs, provider, loadedThreads).catch(() => sessions.clear());
    reply({ type: 'threads-failed', id: request.id, message });
  }
}

// Runs one at a time, in the order they came. onnxruntime-node's `session.run` defers its native
// call to a setImmediate, and that call blocks this thread, so a batch's members ran one after
// another anyway; but each one's timer started when its message came, and so also counted the
// members queued before it (the second and third members of a three-DenseNet ensemble were
// reported at 1.7 and 2.2 times their own session.run). Chained, a run's timer starts when the run
// before it has ended.
let queue: Promise<void> = Promise.resolve();

port.on('message', (request: WorkerRequest) => {
  if (request.type === 'load') void load(request);
  // A run that failed to answer (its port gone) must not stop the runs after it.
  else if (request.type === 'run') queue = queue.catch(() => undefined).then(() => run(request));
  else if (request.type === 'threads') queue = queue.catch(() => undefined).then(() => setThreads(request));
  else if (request.type === 'close') {
    queue = queue
      .catch(() => undefined)
      .then(() => Promise.all([...sessions.values()].map(({ session }) => session.release())))
      .then(
        () => port.close(),
        () => port.close(),
      );
  }
});
