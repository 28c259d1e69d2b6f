/**
 * `triage serve`: the DICOM node (main/node) on the command line, for a service manager.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isValidAeTitle, parsePeer } from '../../dimse/index.js';
import type { TlsOptions } from '../../dimse/index.js';
import { Engine } from '../../engine/index.js';
import { TriageError } from '../../errors/index.js';
import { isProviderChoice, PROVIDER_CHOICES, providerChoiceProblem } from '../../inference/index.js';
import { DicomNode, receivedFolder, stowDestination } from '../../node/index.js';
import type { NodeDestination, NodeEvent } from '../../node/index.js';
import { DEFAULT_PACK } from '../../packs/index.js';
import { defaultDatabasePath, ResultStore } from '../../store/index.js';
import { defaultRules, loadRules } from '../../triage/index.js';
import { printJson } from '../output.js';
import { positiveInteger, usage } from '../usage.js';

export const DEFAULT_STABLE_SECONDS = 10;

export const SERVE_HELP = `triage serve --aet AE --port P [--host ADDR] [--db FILE] [--allow-ae AE1,AE2] [--stable-seconds N] [--send-to AET@HOST:PORT]... [--stow URL]... [--results-dir DIR] [--models DIR] [--ep NAME]

  A DICOM node: receives radiographs by C-STORE (CR, DX, Secondary Capture; every transfer
  syntax the product decodes, kept as sent), triages each study once no instance of it has
  arrived for --stable-seconds, into the same database and worklist as \`triage scan\`, and
  returns a Structured Report and a Secondary Capture per image (docs/dicom-outputs.md) to the
  results folder and to each destination, through an outbox kept in the database and retried
  with backoff. A C-STORE is answered Success only once the instance is on disk; a restart
  triages what was received before it. Conformance: docs/dicom-conformance.md.
  Prints {"listening": {"aet", "host", "port"}} on stdout once ready; events as NDJSON on stderr
  (counts and AE titles, never patient data). SIGTERM or Ctrl-C stops it cleanly.
  --aet AE             this node's AE title (called AE title peers must use)
  --port P             TCP port to listen on (0: any free port, printed when listening)
  --host ADDR          address to listen on (default 127.0.0.1: this computer only)
  --db FILE            results database (default: ${defaultDatabasePath()}); received
                       instances are kept beside it (triage.db: the folder triage.received/)
  --allow-ae LIST      calling AE titles allowed to associate, comma-separated (default: any)
  --stable-seconds N   quiet time that completes a study (default ${DEFAULT_STABLE_SECONDS})
  --send-to PEER       C-STORE results to AET@HOST:PORT (repeatable)
  --stow URL           STOW-RS results to this DICOMweb root, e.g. http://pacs:8042/dicom-web (repeatable)
  --results-dir DIR    where the result objects are written (default: the received folder's results/)
  --models DIR         model pack folder; default: the bundled pack (${DEFAULT_PACK})
  --ep NAME            execution provider: ${PROVIDER_CHOICES}
  --rules FILE         triage rules (JSON), as for scan
  --tls-key FILE, --tls-cert FILE
                       DICOM over TLS (PEM); with --tls-ca FILE, peers must present a
                       certificate signed by it`;

export async function runServe(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      aet: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      db: { type: 'string' },
      'allow-ae': { type: 'string' },
      'stable-seconds': { type: 'string' },
      'send-to': { type: 'string', multiple: true, default: [] },
      stow: { type: 'string', multiple: true, default: [] },
      'results-dir': { type: 'string' },
      models: { type: 'string' },
      ep: { type: 'string', default: 'auto' },
      rules: { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-ca': { type: 'string' },
    },
  });
  if (values.aet === undefined || !isValidAeTitle(values.aet))
    usage(`serve needs --aet AE: 1 to 16 characters, no backslash.\n\n${SERVE_HELP}`);
  if (values.port === undefined) usage(`serve needs --port P.\n\n${SERVE_HELP}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port takes 0 to 65535, not "${values.port}".`);
  const provider = values.ep!;
  if (!isProviderChoice(provider)) usage(providerChoiceProblem(provider)!);
  const allowed = values['allow-ae']?.split(',').map((ae) => ae.trim()) ?? null;
  for (const ae of allowed ?? []) if (!isValidAeTitle(ae)) usage(`--allow-ae: "${ae}" is not an AE title.`);
  const stableSeconds =
    values['stable-seconds'] === undefined
      ? DEFAULT_STABLE_SECONDS
      : positiveInteger(values['stable-seconds'], '--stable-seconds');
  const destinations: NodeDestination[] = [
    ...values['send-to'].map((text): NodeDestination => ({ kind: 'dicom', peer: parsePeer(text) })),
    ...values.stow.map(stowDestination),
  ];
  if ((values['tls-key'] === undefined) !== (values['tls-cert'] === undefined))
    usage('--tls-key and --tls-cert go together.');
  const tls: TlsOptions | undefined =
    values['tls-key'] && values['tls-cert']
      ? {
          key: await readOption(values['tls-key'], '--tls-key'),
          cert: await readOption(values['tls-cert'], '--tls-cert'),
          ca: values['tls-ca'] ? await readOption(values['tls-ca'], '--tls-ca') : undefined,
        }
      : undefined;
  const rules = values.rules === undefined ? defaultRules() : loadRules(values.rules);
  const database = values.db ?? defaultDatabasePath();

  const store = ResultStore.open(database);
  let engine: Engine | undefined;
  let node: DicomNode | undefined;
  const stopped = new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  try {
    engine = await Engine.create({ models: values.models ?? DEFAULT_PACK, provider });
    node = await DicomNode.start({
      aeTitle: values.aet,
      host: values.host!,
      port,
      allowedCallingAeTitles: allowed,
      stableSeconds,
      dataDir: receivedFolder(database),
      resultsDir: values['results-dir'],
      destinations,
      tls,
      engine,
      store,
      rules,
      onEvent: (event: NodeEvent) => {
        if ('listening' in event) printJson(event);
        else process.stderr.write(`${JSON.stringify(event)}\n`);
      },
    });
    await stopped;
    return 0;
  } finally {
    await node?.stop();
    await engine?.close();
    store.close();
  }
}

async function readOption(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    throw new TriageError('FILE_NOT_FOUND', `${flag}: cannot read ${path}.`, { file: path });
  }
}
