/**
 * The radiograph viewer on cornerstone-core. The main side decodes (the engine's own ingest: every
 * transfer syntax, rescale, MONOCHROME1, padding) and sends stored values with the file's window
 * or VOI LUT; cornerstone applies window/level, inversion, zoom and pan on the GPU-less 2D canvas.
 * The heatmap of the selected finding is drawn after each render in the image's pixel coordinate
 * system (cornerstone's setToPixelCoordinateSystem), so it stays registered through zoom and pan.
 *
 * Mouse: left drag = the active tool (window/level, pan or zoom), middle drag = pan, right drag =
 * zoom, wheel = zoom, double click = fit.
 */
import type { HeatmapDataType, RenderedImageData } from '../../main/app/api/contract.js';
import { describeError, invoke } from './api.js';
import { cellRgba, colour, HEATMAP_FLOOR } from './colormap.js';
import { h, replace } from './dom.js';
import { fixed, termLabel } from './format.js';

export type Tool = 'window' | 'pan' | 'zoom';

export const PRESETS = [
  { key: '1', name: 'File window', description: 'the window (or VOI LUT) stored in the file' },
  { key: '2', name: 'Full range', description: 'every value in the image' },
  { key: '3', name: 'High contrast', description: 'half the file window’s width' },
  { key: '4', name: 'Low contrast', description: 'twice the file window’s width' },
  { key: '5', name: 'Auto', description: '0.5th to 99.5th percentile of the pixels' },
] as const;

interface Loaded {
  file: string;
  /** Which analysis of the file this image is shown for (its scannedAt). */
  version: string;
  data: RenderedImageData;
  image: cornerstone.Image;
}

/** The code image.render fails with when the file's content no longer matches its stored result. */
export const FILE_CHANGED = 'FILE_CHANGED';

/** The VOI LUT as cornerstone takes it. */
function toLut(voiLut: NonNullable<RenderedImageData['voiLut']>): cornerstone.LUT {
  return {
    firstValueMapped: voiLut.firstMapped,
    numBitsPerEntry: voiLut.bitsPerEntry,
    lut: Array.from(new Uint16Array(voiLut.data)),
  };
}

function typedPixels(data: RenderedImageData): Uint16Array | Int16Array | Int32Array {
  if (data.pixelType === 'uint16') return new Uint16Array(data.pixels);
  if (data.pixelType === 'int16') return new Int16Array(data.pixels);
  return new Int32Array(data.pixels);
}

function cornerstoneImage(imageId: string, data: RenderedImageData): cornerstone.Image {
  const pixels = typedPixels(data);
  return {
    imageId,
    minPixelValue: data.minStored,
    maxPixelValue: data.maxStored,
    slope: data.slope,
    intercept: data.intercept,
    windowCenter: data.window.center,
    windowWidth: data.window.width,
    getPixelData: () => pixels,
    rows: data.rows,
    columns: data.columns,
    height: data.rows,
    width: data.columns,
    color: false,
    rgba: false,
    columnPixelSpacing: data.pixelSpacing?.[1],
    rowPixelSpacing: data.pixelSpacing?.[0],
    invert: data.invert,
    sizeInBytes: pixels.byteLength,
    voiLUT: data.voiLut && data.window.source === 'voi-lut' ? toLut(data.voiLut) : undefined,
  };
}

/** The 0.5th and 99.5th percentile of the image's modality values (padding excluded). */
function autoWindow(data: RenderedImageData): { center: number; width: number } {
  const pixels = typedPixels(data);
  const { min, max } = data.modalityRange;
  if (!(max > min)) return { center: min, width: 1 };
  const bins = 4096;
  const histogram = new Uint32Array(bins);
  const scale = (bins - 1) / (max - min);
  let total = 0;
  for (let i = 0; i < pixels.length; i++) {
    const value = pixels[i] * data.slope + data.intercept;
    if (value < min || value > max) continue; // padding
    histogram[Math.round((value - min) * scale)]++;
    total++;
  }
  const quantile = (q: number) => {
    let seen = 0;
    for (let bin = 0; bin < bins; bin++) {
      seen += histogram[bin];
      if (seen >= q * total) return min + bin / scale;
    }
    return max;
  };
  const low = quantile(0.005);
  const high = quantile(0.995);
  return { center: (low + high) / 2, width: Math.max(1, high - low) };
}

// Keyed by the image the loader returns: the data goes with it, whether show() keeps it or a
// newer selection makes it stale.
const imageData = new WeakMap<cornerstone.Image, RenderedImageData>();
let loaderRegistered = false;

/**
 * cornerstone image ids for radiographs in the store: `triage:<encoded path>|<encoded version>`.
 * The version (the result's scannedAt) makes an image analysed again a new image, never one a
 * cache could answer with the pixels of the analysis before.
 */
function imageIdOf(file: string, version: string): string {
  return `triage:${encodeURIComponent(file)}|${encodeURIComponent(version)}`;
}

function registerLoader(): void {
  if (loaderRegistered) return;
  loaderRegistered = true;
  cornerstone.registerImageLoader('triage', (imageId) => ({
    promise: (async () => {
      const file = decodeURIComponent(imageId.slice('triage:'.length).split('|')[0]);
      const data = await invoke('image.render', { file });
      const image = cornerstoneImage(imageId, data);
      imageData.set(image, data);
      return image;
    })(),
  }));
}

export interface ViewerCallbacks {
  /** The heatmap was switched on with none loaded, or its model changed (the app fetches it). */
  heatmapChanged(): void;
  /** The reader asked to analyse this file again (it changed since its analysis). */
  analyseAgain(file: string): void;
}

export class Viewer {
  readonly element: HTMLElement;
  private readonly message: HTMLElement;
  private readonly banner: HTMLElement;
  /** In place of the pixels when the file changed since its analysis, with "Analyse again". */
  private readonly changed: HTMLElement;
  private readonly changedStatus: HTMLElement;
  private readonly analyseButton: HTMLButtonElement;
  private changedFile: string | null = null;
  private readonly cornerTopLeft: HTMLElement;
  private readonly cornerTopRight: HTMLElement;
  private readonly cornerBottomLeft: HTMLElement;
  private readonly cornerBottomRight: HTMLElement;
  private readonly toolbar: HTMLElement;
  private readonly heatmapControls: HTMLElement;
  private readonly modelSelect: HTMLSelectElement;
  private readonly opacityInput: HTMLInputElement;
  private readonly heatmapToggle: HTMLButtonElement;
  private loaded: Loaded | null = null;
  private loading = 0;
  private heatmap: { data: HeatmapDataType; canvas: HTMLCanvasElement } | null = null;
  /** The heatmap the bottom-right corner names (null: none), so a render rewrites it only on a change. */
  private cornerHeatmap: HeatmapDataType | null = null;
  private tool: Tool = 'window';
  private drag: { x: number; y: number; mode: Tool } | null = null;
  heatmapVisible = true;
  heatmapModel: string | null = null;
  opacity = 0.55;
  private members: string[] = [];

  constructor(
    root: HTMLElement,
    private readonly callbacks: ViewerCallbacks,
  ) {
    registerLoader();
    this.element = h('div', { id: 'viewport', class: 'viewport', tabindex: 0, 'aria-label': 'Radiograph viewer' });
    this.message = h('div', { class: 'viewer-message', role: 'status' });
    this.banner = h('div', { class: 'viewer-banner', role: 'note', hidden: true });
    this.analyseButton = h(
      'button',
      {
        type: 'button',
        class: 'button primary',
        on: {
          click: () => {
            if (this.changedFile !== null) this.callbacks.analyseAgain(this.changedFile);
          },
        },
      },
      'Analyse again',
    );
    this.changedStatus = h('p', { class: 'state-reason' });
    this.changed = h(
      'div',
      { class: 'viewer-state file-changed', role: 'alert', 'data-state': 'file-changed', hidden: true },
      h('p', { class: 'state-title' }, 'The file changed since it was analysed'),
      this.changedStatus,
      this.analyseButton,
    );
    this.cornerTopLeft = h('div', { class: 'corner top-left' });
    this.cornerTopRight = h('div', { class: 'corner top-right' });
    this.cornerBottomLeft = h('div', { class: 'corner bottom-left' });
    this.cornerBottomRight = h('div', { class: 'corner bottom-right' });
    this.modelSelect = h('select', {
      class: 'select',
      'aria-label': 'Heatmap of',
      on: {
        change: () => {
          this.heatmapModel = this.modelSelect.value === '' ? null : this.modelSelect.value;
          this.callbacks.heatmapChanged();
        },
      },
    });
    this.opacityInput = h('input', {
      type: 'range',
      min: '0',
      max: '1',
      step: '0.05',
      value: String(this.opacity),
      class: 'opacity',
      'aria-label': 'Heatmap opacity',
      on: {
        input: () => {
          this.opacity = Number(this.opacityInput.value);
          this.redraw();
        },
      },
    });
    this.heatmapToggle = h(
      'button',
      {
        type: 'button',
        class: 'tool-button',
        'aria-pressed': 'true',
        title: 'Show the heatmap of the selected finding (H)',
        on: { click: () => this.toggleHeatmap() },
      },
      'Heatmap',
    );
    this.heatmapControls = h(
      'div',
      { class: 'heatmap-controls' },
      this.heatmapToggle,
      this.modelSelect,
      h('label', { class: 'opacity-label', title: 'Heatmap opacity' }, this.opacityInput),
      this.colourScale(),
    );
    this.toolbar = this.buildToolbar();
    replace(
      root,
      this.toolbar,
      h(
        'div',
        { class: 'viewport-frame' },
        this.element,
        this.banner,
        this.cornerTopLeft,
        this.cornerTopRight,
        this.cornerBottomLeft,
        this.cornerBottomRight,
        this.message,
        this.changed,
      ),
    );
    cornerstone.enable(this.element);
    this.element.addEventListener(cornerstone.EVENTS.IMAGE_RENDERED, (event) =>
      this.rendered((event as CustomEvent<cornerstone.ImageRenderedDetail>).detail),
    );
    this.element.addEventListener('pointerdown', (event) => this.pointerDown(event));
    this.element.addEventListener('pointermove', (event) => this.pointerMove(event));
    this.element.addEventListener('pointerup', (event) => this.pointerUp(event));
    this.element.addEventListener('pointercancel', (event) => this.pointerUp(event));
    this.element.addEventListener('contextmenu', (event) => event.preventDefault());
    this.element.addEventListener('dblclick', () => this.fit());
    this.element.addEventListener('wheel', (event) => this.wheel(event), { passive: false });
    new ResizeObserver(() => {
      if (this.element.clientWidth > 0 && this.element.clientHeight > 0) cornerstone.resize(this.element, true);
    }).observe(this.element);
    this.showMessage('Select a study in the worklist.');
    this.updateHeatmapControls();
  }

  private buildToolbar(): HTMLElement {
    const toolButton = (tool: Tool, label: string, title: string) =>
      h(
        'button',
        {
          type: 'button',
          class: 'tool-button',
          'data-tool': tool,
          'aria-pressed': String(this.tool === tool),
          title,
          on: { click: () => this.setTool(tool) },
        },
        label,
      );
    return h(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Viewer tools' },
      h(
        'div',
        { class: 'tool-group' },
        toolButton('window', 'W/L', 'Left drag: window (horizontal) and level (vertical)'),
        toolButton('pan', 'Pan', 'Left drag: pan (middle drag always pans)'),
        toolButton('zoom', 'Zoom', 'Left drag: zoom (right drag and the wheel always zoom)'),
      ),
      h(
        'div',
        { class: 'tool-group' },
        h(
          'select',
          {
            class: 'select',
            'aria-label': 'Window preset',
            on: {
              change: (event) => {
                const select = event.target as HTMLSelectElement;
                if (select.value) this.preset(Number(select.value));
                select.value = '';
              },
            },
          },
          h('option', { value: '' }, 'Presets'),
          ...PRESETS.map((p, i) => h('option', { value: String(i + 1), title: p.description }, `${p.key}  ${p.name}`)),
        ),
        h(
          'button',
          { type: 'button', class: 'tool-button', title: 'Invert (I)', on: { click: () => this.invert() } },
          'Invert',
        ),
        h(
          'button',
          { type: 'button', class: 'tool-button', title: 'Fit to the window (F)', on: { click: () => this.fit() } },
          'Fit',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'tool-button',
            title: 'Reset window, zoom and pan (R)',
            on: { click: () => this.reset() },
          },
          'Reset',
        ),
      ),
      this.heatmapControls,
    );
  }

  private colourScale(): HTMLElement {
    const canvas = h('canvas', { class: 'colour-scale', width: 120, height: 10, 'aria-hidden': 'true' });
    const context = canvas.getContext('2d');
    if (context) {
      for (let x = 0; x < 120; x++) {
        const value = HEATMAP_FLOOR + ((1 - HEATMAP_FLOOR) * x) / 119;
        const [r, g, b] = colour(value);
        context.fillStyle = `rgb(${r}, ${g}, ${b})`;
        context.fillRect(x, 0, 1, 10);
      }
    }
    return h(
      'div',
      {
        class: 'scale',
        title:
          'Heatmap colour scale: where the models’ evidence for the finding is weak (left) to strongest (right), relative to its peak',
      },
      h('span', null, 'weak'),
      canvas,
      h('span', null, 'strong'),
    );
  }

  setTool(tool: Tool): void {
    this.tool = tool;
    for (const button of this.toolbar.querySelectorAll<HTMLElement>('[data-tool]'))
      button.setAttribute('aria-pressed', String(button.dataset.tool === tool));
  }

  get file(): string | null {
    return this.loaded?.file ?? null;
  }

  /**
   * Shows one image of the store, as analysed at `version` (its result's scannedAt); `note` is a
   * banner over it (a rejection's reason). Only that image's pixels are ever on screen under its
   * findings: another image's are cleared before it decodes, and a file that changed since its
   * analysis (FILE_CHANGED) shows that state, with "Analyse again", instead of pixels.
   */
  async show(file: string | null, note: string | null = null, version = ''): Promise<void> {
    const token = ++this.loading;
    this.heatmap = null;
    this.setBanner(note);
    this.setChanged(null);
    if (file === null) {
      this.clear();
      this.showMessage('Select a study in the worklist.');
      return;
    }
    if (this.loaded?.file === file && this.loaded.version === version) {
      this.showMessage(null);
      this.redraw();
      return;
    }
    if (this.loaded) this.clear();
    this.showMessage('Decoding…');
    try {
      const image = await cornerstone.loadImage(imageIdOf(file, version));
      if (token !== this.loading) return;
      const data = imageData.get(image)!;
      this.loaded = { file, version, data, image };
      this.element.dataset.file = file;
      this.fillImageCorners(data);
      cornerstone.displayImage(this.element, image, cornerstone.getDefaultViewportForImage(this.element, image));
      cornerstone.fitToWindow(this.element);
      this.showMessage(null);
    } catch (thrown) {
      if (token !== this.loading) return;
      const error = describeError(thrown);
      this.clear();
      if (error.code === FILE_CHANGED) {
        this.showMessage(null);
        this.setChanged(file, error.message);
      } else {
        this.showMessage(`This image cannot be displayed: ${error.message}`, true);
      }
    }
  }

  /** The file on screen is being analysed again: "Analyse again" waits for the new result. */
  analysing(file: string, failed: string | null = null): void {
    if (this.changedFile !== file) return;
    this.analyseButton.disabled = failed === null;
    replace(
      this.changedStatus,
      failed ?? 'Analysing it again; the new result and its image replace these when they are ready.',
    );
  }

  /** The file-changed state (null: none). */
  private setChanged(file: string | null, message = ''): void {
    this.changedFile = file;
    this.changed.hidden = file === null;
    this.analyseButton.disabled = false;
    replace(this.changedStatus, message);
    if (file === null) delete this.element.dataset.state;
    else this.element.dataset.state = 'file-changed';
  }

  private clear(): void {
    this.loaded = null;
    delete this.element.dataset.file;
    delete this.element.dataset.window;
    // cornerstone keeps the last image and draws it again on the next resize or update: disabling
    // and enabling the element drops it with its canvas, so no other image's pixels come back.
    cornerstone.disable(this.element);
    cornerstone.enable(this.element);
    for (const corner of [this.cornerTopLeft, this.cornerTopRight, this.cornerBottomLeft, this.cornerBottomRight])
      replace(corner);
    this.cornerHeatmap = null;
  }

  private showMessage(text: string | null, error = false): void {
    this.message.hidden = text === null;
    this.message.classList.toggle('error', error);
    replace(this.message, text ?? '');
  }

  private setBanner(text: string | null): void {
    this.banner.hidden = text === null;
    replace(this.banner, text ?? '');
  }

  /** The members whose heatmaps exist for the selected finding (for the model choice). */
  setHeatmapMembers(members: string[]): void {
    this.members = members;
    if (this.heatmapModel !== null && !members.includes(this.heatmapModel)) this.heatmapModel = null;
    this.updateHeatmapControls();
  }

  setHeatmap(data: HeatmapDataType | null): void {
    if (data === null || data.file !== this.loaded?.file) {
      this.heatmap = null;
    } else {
      const canvas = document.createElement('canvas');
      canvas.width = data.columns;
      canvas.height = data.rows;
      const context = canvas.getContext('2d')!;
      const pixels = context.createImageData(data.columns, data.rows);
      const values = new Float32Array(data.data);
      for (let i = 0; i < values.length; i++) pixels.data.set(cellRgba(values[i]), i * 4);
      context.putImageData(pixels, 0, 0);
      this.heatmap = { data, canvas };
      this.setHeatmapMembers(data.members);
    }
    this.updateHeatmapControls();
    this.redraw();
  }

  /** Hiding keeps the heatmap, so showing it again needs no fetch; the app fetches only when none is loaded. */
  toggleHeatmap(): void {
    this.heatmapVisible = !this.heatmapVisible;
    this.updateHeatmapControls();
    if (this.heatmapVisible && this.heatmap === null) this.callbacks.heatmapChanged();
    this.redraw();
  }

  /** Next heatmap source: ensemble, then each member that voted. */
  cycleHeatmapModel(): void {
    const choices: Array<string | null> = [null, ...this.members];
    this.heatmapModel = choices[(choices.indexOf(this.heatmapModel) + 1) % choices.length];
    this.updateHeatmapControls();
    this.callbacks.heatmapChanged();
  }

  private updateHeatmapControls(): void {
    this.heatmapToggle.setAttribute('aria-pressed', String(this.heatmapVisible));
    const choices: Array<[string, string]> = [
      ['', this.members.length > 0 ? `Ensemble (${this.members.length})` : 'Ensemble'],
      ...this.members.map((m): [string, string] => [m, m]),
    ];
    replace(
      this.modelSelect,
      ...choices.map(([value, label]) => h('option', { value, selected: (this.heatmapModel ?? '') === value }, label)),
    );
    this.modelSelect.value = this.heatmapModel ?? '';
    // Dimmed while nothing is drawn, hidden or not loaded alike.
    this.heatmapControls.classList.toggle('inactive', this.heatmap === null || !this.heatmapVisible);
  }

  private redraw(): void {
    if (this.loaded) cornerstone.updateImage(this.element);
  }

  // ---- viewport operations

  private viewport(): cornerstone.Viewport | null {
    return this.loaded ? (cornerstone.getViewport(this.element) ?? null) : null;
  }

  private apply(viewport: cornerstone.Viewport): void {
    cornerstone.setViewport(this.element, viewport);
  }

  preset(index: number): void {
    const viewport = this.viewport();
    if (!viewport || !this.loaded) return;
    const { data, image } = this.loaded;
    const file = data.window;
    let window: { center: number; width: number };
    viewport.voiLUT = undefined;
    switch (index) {
      case 1:
        window = file;
        if (image.voiLUT) viewport.voiLUT = image.voiLUT;
        break;
      case 2:
        window = {
          center: (data.modalityRange.min + data.modalityRange.max) / 2,
          width: Math.max(1, data.modalityRange.max - data.modalityRange.min),
        };
        break;
      case 3:
        window = { center: file.center, width: Math.max(1, file.width / 2) };
        break;
      case 4:
        window = { center: file.center, width: file.width * 2 };
        break;
      case 5:
        window = autoWindow(data);
        break;
      default:
        return;
    }
    viewport.voi = { windowCenter: window.center, windowWidth: window.width };
    this.apply(viewport);
  }

  invert(): void {
    const viewport = this.viewport();
    if (!viewport) return;
    viewport.invert = !viewport.invert;
    this.apply(viewport);
  }

  fit(): void {
    if (this.loaded) cornerstone.fitToWindow(this.element);
  }

  reset(): void {
    if (!this.loaded) return;
    cornerstone.reset(this.element);
    cornerstone.fitToWindow(this.element);
  }

  zoomBy(factor: number): void {
    const viewport = this.viewport();
    if (!viewport) return;
    viewport.scale = Math.min(40, Math.max(0.05, viewport.scale * factor));
    this.apply(viewport);
  }

  // ---- mouse

  private pointerDown(event: PointerEvent): void {
    if (!this.loaded) return;
    this.element.focus();
    const mode: Tool =
      event.button === 1 || (event.button === 0 && event.shiftKey) ? 'pan' : event.button === 2 ? 'zoom' : this.tool;
    this.drag = { x: event.clientX, y: event.clientY, mode };
    this.element.setPointerCapture(event.pointerId);
    this.element.classList.add(`dragging-${mode}`);
    event.preventDefault();
  }

  private pointerMove(event: PointerEvent): void {
    if (!this.drag) return;
    const dx = event.clientX - this.drag.x;
    const dy = event.clientY - this.drag.y;
    this.drag.x = event.clientX;
    this.drag.y = event.clientY;
    const viewport = this.viewport();
    if (!viewport || !this.loaded) return;
    if (this.drag.mode === 'window') {
      const range = Math.max(1, this.loaded.data.modalityRange.max - this.loaded.data.modalityRange.min);
      const step = range / 512;
      if (viewport.voiLUT) {
        // Dragging leaves the file's VOI LUT for the linear window it spans.
        viewport.voiLUT = undefined;
        viewport.voi = { windowCenter: this.loaded.data.window.center, windowWidth: this.loaded.data.window.width };
      }
      viewport.voi = {
        windowWidth: Math.max(1, viewport.voi.windowWidth + dx * step),
        windowCenter: viewport.voi.windowCenter + dy * step,
      };
    } else if (this.drag.mode === 'pan') {
      viewport.translation = {
        x: viewport.translation.x + dx / viewport.scale,
        y: viewport.translation.y + dy / viewport.scale,
      };
    } else {
      viewport.scale = Math.min(40, Math.max(0.05, viewport.scale * Math.exp(-dy / 150)));
    }
    this.apply(viewport);
  }

  private pointerUp(event: PointerEvent): void {
    if (!this.drag) return;
    this.element.classList.remove(`dragging-${this.drag.mode}`);
    this.drag = null;
    if (this.element.hasPointerCapture(event.pointerId)) this.element.releasePointerCapture(event.pointerId);
  }

  private wheel(event: WheelEvent): void {
    if (!this.loaded) return;
    event.preventDefault();
    this.zoomBy(Math.exp(-event.deltaY / 500));
  }

  // ---- after each render: the heatmap and the corner texts

  private rendered(detail: cornerstone.ImageRenderedDetail): void {
    const { canvasContext: context, enabledElement, viewport, image } = detail;
    const heatmap = this.heatmap;
    const showHeatmap = heatmap !== null && this.heatmapVisible && this.loaded !== null;
    if (showHeatmap) {
      context.save();
      cornerstone.setToPixelCoordinateSystem(enabledElement, context);
      // The engine may have analysed a reduced resolution level: scale its grid to this image.
      const sx = image.columns / heatmap.data.imageColumns;
      const sy = image.rows / heatmap.data.imageRows;
      context.beginPath();
      context.rect(0, 0, image.columns, image.rows);
      context.clip();
      context.globalAlpha = this.opacity;
      context.imageSmoothingEnabled = true;
      context.drawImage(
        heatmap.canvas,
        0,
        0,
        heatmap.data.columns * heatmap.data.scale * sx,
        heatmap.data.rows * heatmap.data.scale * sy,
      );
      context.restore();
    }
    this.element.dataset.window = `${fixed(viewport.voi.windowCenter, 1)}/${fixed(viewport.voi.windowWidth, 1)}`;
    this.element.dataset.heatmap = showHeatmap ? `${heatmap.data.term}|${heatmap.data.model ?? 'ensemble'}` : '';
    this.updateCorners(viewport, showHeatmap ? heatmap.data : null);
  }

  /** The corners that describe the image itself: filled once per image shown. */
  private fillImageCorners(data: RenderedImageData): void {
    replace(
      this.cornerTopLeft,
      h('div', { class: 'corner-strong' }, data.file.split(/[\\/]/).pop() ?? data.file),
      h('div', null, [data.modality, data.viewPosition, data.photometric].filter(Boolean).join(' · ')),
    );
    replace(
      this.cornerTopRight,
      h('div', null, `${data.columns} × ${data.rows}, ${data.bitsStored}-bit`),
      h('div', null, data.transferSyntax ?? data.format.toUpperCase()),
      data.pixelSpacing
        ? h('div', null, `${fixed(data.pixelSpacing[1], 3)} × ${fixed(data.pixelSpacing[0], 3)} mm`)
        : null,
    );
  }

  /** The corners that follow the view: W/L and zoom on every render, the heatmap's name when it changes. */
  private updateCorners(viewport: cornerstone.Viewport, heatmap: HeatmapDataType | null): void {
    const loaded = this.loaded;
    if (!loaded) return;
    replace(
      this.cornerBottomLeft,
      h(
        'div',
        null,
        viewport.voiLUT
          ? 'VOI LUT (file)'
          : `W ${fixed(viewport.voi.windowWidth, 0)}  L ${fixed(viewport.voi.windowCenter, 0)}`,
      ),
      h(
        'div',
        null,
        `Zoom ${Math.round(viewport.scale * 100)}%${viewport.invert !== loaded.data.invert ? ' · inverted' : ''}`,
      ),
    );
    if (heatmap === this.cornerHeatmap) return;
    this.cornerHeatmap = heatmap;
    replace(
      this.cornerBottomRight,
      heatmap
        ? h(
            'div',
            { class: 'corner-strong' },
            `Heatmap: ${termLabel(heatmap.term)}`,
            h('div', null, heatmap.model ? `model ${heatmap.model}` : `ensemble of ${heatmap.members.length}`),
          )
        : null,
    );
  }
}
