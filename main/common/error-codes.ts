/**
 * The one vocabulary of error codes, each with what it means; main/errors raises them as
 * TriageErrors, the window and the CLI show them.
 */
export const ERROR_CODES = {
  // Input files
  FILE_NOT_FOUND: 'The file does not exist or cannot be opened.',
  UNREADABLE: 'The file exists but cannot be read (permissions, a directory, a device).',
  NOT_DICOM: 'The file is not DICOM, PNG or JPEG.',
  TRUNCATED: 'The file ends before the data it announces.',
  MALFORMED: 'The file is structurally corrupt (impossible element lengths or values).',
  UNSUPPORTED_TRANSFER_SYNTAX: 'The pixel data is encoded in a transfer syntax this build cannot decode.',
  NO_PIXEL_DATA: 'The DICOM object is an image type but carries no pixel data.',
  NOT_AN_IMAGE: 'The DICOM object is not an image (for example a structured report).',
  INVALID_ATTRIBUTE: 'An attribute has a value that is missing, impossible or inconsistent.',
  TOO_LARGE: 'The image, or the work of decoding it, is larger than any radiograph needs.',
  DECODE_FAILED: 'The codec could not decode the pixel data, or reading the file stopped the thread reading it.',
  DECODE_TIMEOUT: 'Decoding the file took longer than its time budget; it was stopped and the file is not read.',
  DECODE_OUT_OF_MEMORY:
    'Decoding the file needed more memory than its budget; it was stopped and the file is not read.',
  FILE_CHANGED:
    'The file changed since it was analysed; its pixels are not shown under the old findings. Analyse it again.',
  // Folder scans
  SYMLINK_LOOP: 'A symbolic link leads back into a folder that contains it; the loop is not followed.',
  INVALID_DICOMDIR:
    'A DICOMDIR cannot be read, or references a file outside its folder or a DICOMDIR that leads back to it.',
  // Model packs and inference
  PACK_NOT_FOUND: 'No model pack (ensemble.json) at the given folder.',
  INVALID_PACK: 'A model pack file is missing or does not match the pack format.',
  HASH_MISMATCH: 'An ONNX file does not match the SHA-256 its manifest records.',
  PROVIDER_UNAVAILABLE: 'The requested execution provider cannot run on this machine.',
  INFERENCE_FAILED: 'The ONNX runtime failed while running a model.',
  REMOTE_MODEL_MISMATCH:
    "A model the KServe server serves is not the pack's: its recorded SHA-256, inputs or outputs differ. Regenerate the model repository with triage triton-repo.",
  REMOTE_FAILED:
    'The KServe inference server did not answer a batch correctly after retries (unreachable, busy, timed out, or a malformed answer); its images were not analysed.',
  CAM_MISMATCH:
    "A model's class activation map does not average to its logit, so its heatmaps would not show what drives its scores.",
  // The PadChest taxonomy
  TAXONOMY_NOT_FOUND: 'The bundled PadChest taxonomy file is missing; reinstall the application.',
  INVALID_TAXONOMY: 'The PadChest taxonomy file is malformed.',
  TAXONOMY_CYCLE: 'The PadChest taxonomy has a cycle; it must be a DAG.',
  UNKNOWN_TERM: 'A term is not in the PadChest taxonomy.',
  AMBIGUOUS_TERM: 'A term is in more than one PadChest tree; name the tree.',
  // Triage rules and the results database
  INVALID_RULES: 'A triage rules file is missing, not JSON, or does not match the rules format.',
  // Local validation (triage eval, triage calibrate)
  INVALID_LABELS:
    'A labels file is missing, too large, not CSV, or has a column that is not a PadChest term or a value other than 1, 0 or empty.',
  NOTHING_TO_EVALUATE:
    'No labelled image was analysed, or no finding the pack assesses has both positive and negative labels; check the paths and the labels file.',
  DATABASE_FAILED: 'The results database cannot be opened, read or written.',
  DATABASE_LOCKED: 'Another process holds the results database and did not release it in time.',
  DATABASE_TOO_NEW: 'The results database was written by a newer version of this application.',
  LEASE_LOST:
    'A worker of a shared scan no longer held the file (its lease expired and another worker took it over); its outcome was not recorded.',
  QUARANTINED:
    'The file stopped the workers that read it too many times; it is set aside for a person to review and not read again.',
  DATABASE_UNREACHABLE:
    'The database server cannot be reached, refused the connection or the credentials, or stopped answering.',
  SHARD_MISMATCH:
    'The results database holds scans of another shard (another --shard i/N, or none); a shard resumes only in its own database with the same --shard.',
  MERGE_CONFLICT:
    'The databases to merge disagree: two of them hold results of different model packs for the same file; merge only shards scanned with the same pack.',
  OUTPUT_EXISTS: 'The output database already holds results; it is never merged into. Name a new file.',
  // The desktop app: requests from the window to the engine
  INVALID_REQUEST: 'A request from the app window does not match the API contract; it was refused.',
  FORBIDDEN_SENDER: 'A request came from a frame that is not the application window; it was refused.',
  PATH_NOT_GRANTED:
    'The window asked to scan a path the user did not open in it (open dialog or drop) and that is not in the worklist; it was refused.',
  PATH_NOT_LOCAL:
    'The window asked to scan a network, device or automount path; only files on this computer are scanned from the window.',
  RATE_LIMITED: 'The window sent more requests of this kind than a reader can; this one was refused. Wait a moment.',
  ENGINE_STOPPED: 'The analysis engine process stopped; it is restarted for the next request.',
  ENGINE_TIMEOUT:
    'The analysis engine did not answer in time; try again, and restart the application if it keeps happening.',
  SCAN_QUEUE_FULL: 'Too many scans are waiting; let them finish, or stop them, before adding another.',
  VALIDATION_RUNNING: 'A validation is running; wait for it to finish, or cancel it, before starting another.',
  // DICOM networking
  ADDRESS_IN_USE: 'The DICOM port is already in use by another program; choose another port.',
  NETWORK_FAILED: 'A DICOM connection could not be made, or ended before its work was done.',
  INVALID_SETTINGS:
    "The DICOM node's settings file is not JSON or does not match its format; the defaults are shown, and the node does not start until settings are saved again.",
  NODE_RUNNING: 'The DICOM node is running; stop it before changing its settings.',
  // Command line and output
  USAGE: 'The command line is incomplete or wrong.',
  OUTPUT_FAILED: 'An output file could not be written.',
  INTERNAL: 'An unexpected internal failure; the details are in the log.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
