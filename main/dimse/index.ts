/**
 * DICOM networking, behind one interface: the Verification and Storage SCP that receives
 * radiographs durably, the SCU that echoes peers and C-STOREs results, and STOW-RS. The protocol
 * is dcmjs-dimse's; a site that prefers its own gateway replaces this stage, not the node.
 */
export { parsePeer, peerName } from './destination.js';
export type { DicomPeer } from './destination.js';
export { filePrefix } from './file-meta.js';
export { guardPduLengths, MAX_PDU_LENGTH, startStorageScp } from './scp.js';
export { SpoolWriter } from './spool.js';
export type { SpoolOutcome } from './spool.js';
export type {
  AssociationEvent,
  InstanceVerdict,
  SpooledInstance,
  StorageScp,
  StorageScpOptions,
  TlsOptions,
} from './scp.js';
export { echo, storeFiles } from './scu.js';
export type { EchoOutcome, ScuOptions, StoreOutcome } from './scu.js';
export {
  chooseTransferSyntax,
  isValidAeTitle,
  isValidUid,
  RADIOGRAPH_SOP_CLASSES,
  RECEIVED_TRANSFER_SYNTAXES,
  VERIFICATION_SOP_CLASS,
} from './sop-classes.js';
export { stowEndpoint, stowFiles } from './stow.js';
export type { StowOutcome } from './stow.js';
