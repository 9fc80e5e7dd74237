/**
 * Window size, position and maximised state, kept across runs in the user
 * data folder. A saved position that is no longer on any display (a monitor
 * was unplugged) is dropped so the window never opens off-screen.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type BrowserWindow, type Rectangle, app, screen } from 'electron';

export interface WindowState {
  x?: number;
  y?: number;
  width: number;
  height: number;
  maximized: boolean;
}

const DEFAULT: WindowState = { width: 1280, height: 800, maximized: false };
const MIN = { width: 960, height: 640 };

function file(): string {
  return path.join(app.getPath('userData'), 'window-state.json');
}

function visible(r: Rectangle): boolean {
  return screen.getAllDisplays().some(({ workArea: a }) => r.x < a.x + a.width && r.x + r.width > a.x && r.y < a.y + a.height && r.y + r.height > a.y);
}

export function loadWindowState(): WindowState {
  try {
    const raw = JSON.parse(fs.readFileSync(file(), 'utf8')) as Partial<WindowState>;
    const width = Math.max(MIN.width, Number(raw.width) || DEFAULT.width);
    const height = Math.max(MIN.height, Number(raw.height) || DEFAULT.height);
    const state: WindowState = { width, height, maximized: raw.maximized === true };
    if (Number.isFinite(raw.x) && Number.isFinite(raw.y) && visible({ x: raw.x!, y: raw.y!, width, height })) {
      state.x = raw.x;
      state.y = raw.y;
    }
    return state;
  } catch {
    return { ...DEFAULT };
  }
}

export const WINDOW_MIN_SIZE = MIN;

/** Save the window's normal bounds whenever it moves or resizes (debounced) and when it closes. */
export function trackWindowState(win: BrowserWindow): void {
  let timer: NodeJS.Timeout | undefined;
  const save = () => {
    if (win.isDestroyed()) return;
    const b = win.getNormalBounds();
    const state: WindowState = { x: b.x, y: b.y, width: b.width, height: b.height, maximized: win.isMaximized() };
    try {
      fs.mkdirSync(path.dirname(file()), { recursive: true });
      fs.writeFileSync(file(), JSON.stringify(state));
    } catch {
      /* a read-only profile must not stop the app */
    }
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(save, 400);
  };
  win.on('resize', later);
  win.on('move', later);
  win.on('maximize', later);
  win.on('unmaximize', later);
  win.on('close', () => {
    clearTimeout(timer);
    save();
  });
}
