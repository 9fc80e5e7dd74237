/**
 * Renderer entry: pick the host bridge (Electron preload or web-mode
 * WebSocket) and mount the workbench. Nothing here touches Node: the page
 * runs with contextIsolation and sandbox in Electron, and in a plain browser
 * tab in web mode.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { createBridge } from './bridge/index.js';
import './styles.css';

const bridge = createBridge();
const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');
createRoot(root).render(
  <StrictMode>
    <App bridge={bridge} />
  </StrictMode>,
);
