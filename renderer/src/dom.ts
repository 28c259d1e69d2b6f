/**
 * A few lines of DOM building instead of a framework: elements with classes, attributes,
 * listeners and children. Text always goes in as text nodes (never innerHTML), and no style
 * attribute is ever written: the CSP allows stylesheets from the app only, and geometry set from
 * script goes through the CSSOM (element.style), which the CSP permits.
 */

type Child = Node | string | number | null | undefined | false;
type Props = {
  class?: string;
  [attribute: `data-${string}`]: string | number | undefined;
  [attribute: `aria-${string}`]: string | number | boolean | undefined;
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (event: HTMLElementEventMap[K]) => void }>;
} & Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'on') {
        for (const [event, listener] of Object.entries(value as Record<string, EventListener>))
          element.addEventListener(event, listener);
      } else if (key === 'class') {
        element.className = String(value);
      } else if (key in element && !key.startsWith('data-') && !key.startsWith('aria-') && key !== 'role') {
        (element as unknown as Record<string, unknown>)[key] = value;
      } else {
        element.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(
      typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child,
    );
  }
}

/** Replaces an element's children. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}
