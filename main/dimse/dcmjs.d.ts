// dcmjs ships no type declarations; the few calls the node makes, typed.
declare module 'dcmjs' {
  const dcmjs: {
    data: {
      DicomMetaDictionary: { denaturalizeDataset(dataset: Record<string, unknown>): Record<string, unknown> };
      DicomDict: new (meta: Record<string, unknown>) => { write(): ArrayBuffer };
    };
  };
  export default dcmjs;
}
