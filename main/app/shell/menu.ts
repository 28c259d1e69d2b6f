/**
 * The application menu: editing (copy and paste in the search field need it on macOS), view
 * (reload, zoom, full screen; developer tools only where they are enabled) and window roles.
 * No help menu with web links: nothing in the app opens a browser.
 */
import type { MenuItemConstructorOptions } from 'electron';

export function menuTemplate(platform: NodeJS.Platform, devTools: boolean): MenuItemConstructorOptions[] {
  const view: MenuItemConstructorOptions[] = [
    { role: 'reload' },
    { role: 'resetZoom' },
    { role: 'zoomIn' },
    { role: 'zoomOut' },
    { type: 'separator' },
    { role: 'togglefullscreen' },
  ];
  if (devTools) view.push({ type: 'separator' }, { role: 'toggleDevTools' });
  return [
    ...(platform === 'darwin'
      ? [{ role: 'appMenu' } as MenuItemConstructorOptions]
      : [{ role: 'fileMenu' } as MenuItemConstructorOptions]),
    { role: 'editMenu' },
    { label: 'View', submenu: view },
    { role: 'windowMenu' },
  ];
}
