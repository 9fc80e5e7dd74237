/**
 * The application menu: File (Open Image, Open Pack, Export, Quit), Edit
 * (the standard roles, so copy/paste work in text fields), View (theme,
 * zoom, Reload Engine, and Toggle DevTools in development only), Ask (focus
 * the question, stop). Commands that act on page state are forwarded to the
 * renderer as host events; dialogs and the engine stay here.
 */
import { Menu, type MenuItemConstructorOptions, app } from 'electron';

export interface MenuActions {
  openImage(): void;
  openPack(): void;
  exportResults(): void;
  reloadEngine(): void;
  command(name: 'stop' | 'focus-question' | 'toggle-theme' | 'ask'): void;
  toggleDevTools(): void;
}

export function buildMenu(a: MenuActions): Menu {
  const isMac = process.platform === 'darwin';
  const dev = !app.isPackaged;
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: '&File',
      submenu: [
        { label: 'Open Image…', accelerator: 'CmdOrCtrl+O', click: () => a.openImage() },
        { label: 'Open Pack…', accelerator: 'CmdOrCtrl+Shift+O', click: () => a.openPack() },
        { type: 'separator' },
        { label: 'Export…', accelerator: 'CmdOrCtrl+E', click: () => a.exportResults() },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: '&Ask',
      submenu: [
        { label: 'Ask', accelerator: 'CmdOrCtrl+Enter', click: () => a.command('ask') },
        // Esc is handled by the page (it must also work in text fields); shown here for discoverability.
        { label: 'Stop All', accelerator: 'Escape', registerAccelerator: false, click: () => a.command('stop') },
        { label: 'Focus Question', accelerator: 'CmdOrCtrl+L', click: () => a.command('focus-question') },
      ],
    },
    {
      label: '&View',
      submenu: [
        { label: 'Toggle Light/Dark Theme', accelerator: 'CmdOrCtrl+Shift+T', click: () => a.command('toggle-theme') },
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { label: 'Reload Engine', accelerator: 'CmdOrCtrl+Shift+R', click: () => a.reloadEngine() },
        ...(dev
          ? [{ type: 'separator' as const }, { label: 'Toggle DevTools', accelerator: isMac ? 'Alt+Cmd+I' : 'Ctrl+Shift+I', click: () => a.toggleDevTools() }]
          : []),
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
  ];
  return Menu.buildFromTemplate(template);
}
