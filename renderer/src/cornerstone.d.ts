/**
 * The part of cornerstone-core 2.6 (loaded as the global `cornerstone` from vendor/cornerstone.min.js)
 * that the viewer uses. The package ships no types.
 */
declare namespace cornerstone {
  interface LUT {
    firstValueMapped: number;
    numBitsPerEntry: number;
    lut: number[];
  }
  interface Image {
    imageId: string;
    minPixelValue: number;
    maxPixelValue: number;
    slope: number;
    intercept: number;
    windowCenter: number;
    windowWidth: number;
    getPixelData(): ArrayLike<number>;
    rows: number;
    columns: number;
    height: number;
    width: number;
    color: boolean;
    rgba?: boolean;
    columnPixelSpacing?: number;
    rowPixelSpacing?: number;
    invert: boolean;
    sizeInBytes: number;
    voiLUT?: LUT;
  }
  interface Viewport {
    scale: number;
    translation: { x: number; y: number };
    voi: { windowWidth: number; windowCenter: number };
    invert: boolean;
    pixelReplication: boolean;
    rotation: number;
    hflip: boolean;
    vflip: boolean;
    voiLUT?: LUT;
  }
  interface EnabledElement {
    element: HTMLElement;
    image?: Image;
    viewport?: Viewport;
    canvas: HTMLCanvasElement;
  }
  interface ImageRenderedDetail {
    viewport: Viewport;
    element: HTMLElement;
    image: Image;
    enabledElement: EnabledElement;
    canvasContext: CanvasRenderingContext2D;
  }
  function enable(element: HTMLElement, options?: unknown): void;
  function disable(element: HTMLElement): void;
  function registerImageLoader(
    scheme: string,
    loader: (imageId: string) => { promise: Promise<Image>; cancelFn?: () => void },
  ): void;
  function loadImage(imageId: string): Promise<Image>;
  function displayImage(element: HTMLElement, image: Image, viewport?: Partial<Viewport>): void;
  function getViewport(element: HTMLElement): Viewport | undefined;
  function setViewport(element: HTMLElement, viewport: Viewport): void;
  function getDefaultViewportForImage(element: HTMLElement, image: Image): Viewport;
  function getEnabledElement(element: HTMLElement): EnabledElement;
  function getImage(element: HTMLElement): Image | undefined;
  function fitToWindow(element: HTMLElement): void;
  function resize(element: HTMLElement, forceFitToWindow?: boolean): void;
  function reset(element: HTMLElement): void;
  function updateImage(element: HTMLElement, invalidated?: boolean): void;
  function setToPixelCoordinateSystem(
    enabledElement: EnabledElement,
    context: CanvasRenderingContext2D,
    scale?: number,
  ): void;
  function canvasToPixel(element: HTMLElement, point: { x: number; y: number }): { x: number; y: number };
  function pixelToCanvas(element: HTMLElement, point: { x: number; y: number }): { x: number; y: number };
  const EVENTS: { IMAGE_RENDERED: string };
}
