/**
 * One instance of an Emscripten codec module per thread, created on first use. A codec that
 * aborts (out of WASM memory on a hostile file, say) can leave its module unusable, so a failure
 * drops the instance and the next frame gets a fresh one.
 */
export interface LazyModule<M> {
  get(): Promise<M>;
  reset(): void;
}

export function lazyModule<M>(factory: () => Promise<M>): LazyModule<M> {
  let instance: Promise<M> | undefined;
  return {
    get() {
      instance ??= factory().catch((error: unknown) => {
        instance = undefined;
        throw error;
      });
      return instance;
    },
    reset() {
      instance = undefined;
    },
  };
}

/**
 * Emscripten options for a codec module: OpenJPEG prints progress to stdout, which would mix into
 * the CLI's JSON, so the modules' console output is dropped. A new object each time: Emscripten
 * uses it as the module itself, and two codecs sharing one collide on their bindings.
 */
export function quietEmscripten(): { print: () => void; printErr: () => void } {
  return { print: () => {}, printErr: () => {} };
}

/** Runs a decode against a module, resetting the module if the decode throws. */
export async function withModule<M, T>(module: LazyModule<M>, decode: (instance: M) => T | Promise<T>): Promise<T> {
  const instance = await module.get();
  try {
    return await decode(instance);
  } catch (error) {
    module.reset();
    throw error;
  }
}

/** Copies samples out of WASM memory (which the next decode overwrites) into a typed array. */
export function copySamples(
  view: Uint8Array,
  bitsPerSample: number,
  signed: boolean,
): Uint8Array | Int8Array | Uint16Array | Int16Array {
  const bytes = view.slice();
  if (bitsPerSample > 8) {
    return signed
      ? new Int16Array(bytes.buffer, 0, bytes.length >> 1)
      : new Uint16Array(bytes.buffer, 0, bytes.length >> 1);
  }
  return signed ? new Int8Array(bytes.buffer) : bytes;
}
