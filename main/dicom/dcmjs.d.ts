/** The part of dcmjs (untyped) the product's DICOM writer uses. */
declare module 'dcmjs' {
  /** One element of a denaturalized data set: its VR and its values (strings, numbers, bytes or items). */
  interface DcmjsElement {
    vr: string;
    Value: unknown[];
  }
  type DcmjsDict = Record<string, DcmjsElement>;
  class DicomDict {
    constructor(meta: DcmjsDict);
    meta: DcmjsDict;
    dict: DcmjsDict;
    write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer;
  }
  interface DictionaryEntry {
    tag: string;
    vr: string;
    vm: string;
    name: string;
  }
  const dcmjs: {
    data: {
      DicomDict: typeof DicomDict;
      DicomMetaDictionary: { nameMap: Record<string, DictionaryEntry | undefined> };
    };
    log: { setLevel(level: string): void };
  };
  export default dcmjs;
}
