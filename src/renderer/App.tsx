/**
 * The Ask view: image on the left (with the cross-attention strip and the
 * image's history), question and knobs on the right above the three answer
 * columns, status bar at the bottom. This component wires the hooks
 * together and owns the window-wide gestures: drag-and-drop, paste, Esc to
 * stop, Ctrl/Cmd+O to open, and the host's menu commands.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { EngineEvent, ProviderChoiceName } from '../shared/contract.js';
import type { Bridge, HostEvent } from './bridge/index.js';
import { AnswerColumns } from './components/AnswerColumns.js';
import { EvalView } from './components/eval/EvalView.js';
import { FeaturesView } from './components/features/FeaturesView.js';
import { ModelsView } from './components/models/ModelsView.js';
import { HistoryPanel } from './components/HistoryPanel.js';
import { ImagePane } from './components/ImagePane.js';
import { KnobsPanel } from './components/KnobsPanel.js';
import { QuestionBar } from './components/QuestionBar.js';
import { StatusBar } from './components/StatusBar.js';
import { TopBar } from './components/TopBar.js';
import { type ViewName, ViewTabs, isViewName } from './components/ViewTabs.js';
import { downloadExport } from './lib/export.js';
import { type LoadedImage, dropHasFolder, firstImageFile, loadImageBytes, loadImageFile } from './lib/image-file.js';
import { loadJson, saveJson } from './lib/persist.js';
import { type HistoryAnswer, type HistoryEntry, useHistory } from './state/history.js';
import { useRecentPacks } from './state/recent-packs.js';
import { EMPTY_KNOBS, type Knobs, diffusionKey, diffusionPrompt, effectiveKnobs, usePreferences } from './state/settings.js';
import { type ColumnRun, useAsk } from './state/use-ask.js';
import { useAttention } from './state/use-attention.js';
import { useEngine } from './state/use-engine.js';

/** Knob edits settle for this long before the diffusion columns re-run. */
const RERUN_DEBOUNCE_MS = 500;

interface LastAsk {
  question: string;
  imageHash: string;
  diffKey: string;
}

export function App({ bridge }: { bridge: Bridge }) {
  const [prefs, updatePrefs, updateKnobs] = usePreferences();
  const [image, setImage] = useState<LoadedImage>();
  const [question, setQuestion] = useState<string>(() => loadJson('question', ''));
  const [dragging, setDragging] = useState(false);
  // The execution provider asked for in the status bar (the engine process restarts on it).
  const [provider, setProvider] = useState<ProviderChoiceName>('auto');
  const [view, setView] = useState<ViewName>(() => {
    const v = loadJson<unknown>('view', 'ask');
    return isViewName(v) ? v : 'ask';
  });
  const fileInput = useRef<HTMLInputElement>(null);
  const questionRef = useRef<HTMLTextAreaElement>(null);
  const imageRef = useRef<LoadedImage | undefined>(undefined);
  imageRef.current = image;
  const lastAsk = useRef<LastAsk | undefined>(undefined);
  const progressSink = useRef<((e: EngineEvent) => void) | undefined>(undefined);

  const ask = useAsk(bridge, (e) => progressSink.current?.(e));
  const attention = useAttention(bridge);
  const history = useHistory(image?.hash, image?.name);
  const hostEvents = useRef<(e: HostEvent) => void>(() => undefined);
  const engine = useEngine(bridge, ask.busy, (e) => hostEvents.current(e));
  const recentPacks = useRecentPacks(bridge, engine.pack ? { dir: engine.pack.dir, name: engine.pack.name } : undefined);
  progressSink.current = engine.onProgress;

  useEffect(() => {
    document.documentElement.dataset.theme = prefs.theme;
  }, [prefs.theme]);
  useEffect(() => {
    saveJson('question', question);
  }, [question]);
  useEffect(() => {
    saveJson('view', view);
  }, [view]);
  useEffect(() => {
    document.title = image ? `${image.name} — TwinLens` : 'TwinLens';
  }, [image]);

  const modes = useMemo(() => (engine.pack?.modes ?? []).filter((m) => !m.extra || prefs.showExtraModes), [engine.pack, prefs.showExtraModes]);
  const runnable = useMemo(() => modes.filter((m) => m.available).map((m) => m.id), [modes]);
  const diffusionModes = useMemo(() => modes.filter((m) => m.available && m.inputs.includes('diffusion')).map((m) => m.id), [modes]);

  const setNewImage = useCallback(
    (img: LoadedImage) => {
      if (imageRef.current) URL.revokeObjectURL(imageRef.current.url);
      ask.reset();
      attention.reset();
      lastAsk.current = undefined;
      setImage(img);
    },
    [ask, attention],
  );

  const openFile = useCallback(
    (file: File) => {
      loadImageFile(file).then(setNewImage, (e: Error) => engine.notify('error', e.message));
    },
    [setNewImage, engine],
  );

  const submit = useCallback(
    async (q: string, knobs: Knobs, modeIds: string[]) => {
      const img = imageRef.current;
      if (!img || !q.trim() || modeIds.length === 0) return;
      lastAsk.current = { question: q, imageHash: img.hash, diffKey: diffusionKey(knobs) };
      const request = { image: { bytes: img.bytes, name: img.name }, question: q, knobs, modes: modeIds };
      const done = ask.run(request);
      if (prefs.showAttention && engine.pack?.hasDiffusion) {
        void attention.load(request.image, diffusionPrompt(q, effectiveKnobs(knobs, engine.pack?.defaults)), knobs);
      }
      const cols = await done;
      if (imageRef.current?.hash !== img.hash) return;
      const answers = historyAnswers(cols);
      if (Object.values(answers).some((a) => !a.error)) history.add({ question: q, knobs, answers, pack: engine.pack?.name });
    },
    [ask, attention, history, prefs.showAttention, engine.pack],
  );

  const askNow = useCallback(() => void submit(question, prefs.knobs, runnable), [submit, question, prefs.knobs, runnable]);

  // Changing a diffusion knob after an answer re-runs the columns that depend on diffusion features.
  const knobKey = diffusionKey(prefs.knobs);
  useEffect(() => {
    const last = lastAsk.current;
    if (!prefs.autoRerun || !last || !image || last.imageHash !== image.hash || last.diffKey === knobKey) return;
    const timer = setTimeout(() => void submit(last.question, prefs.knobs, diffusionModes), RERUN_DEBOUNCE_MS);
    return () => clearTimeout(timer);
    // Deliberately keyed on the diffusion knobs only: other changes must not re-run.
  }, [knobKey]);

  const rerunEntry = useCallback(
    (e: HistoryEntry) => {
      setQuestion(e.question);
      updateKnobs(e.knobs);
      void submit(e.question, e.knobs, runnable);
    },
    [submit, updateKnobs, runnable],
  );

  const doExport = useCallback(
    (format: 'json' | 'md' = 'json') => {
      if (!image) return;
      downloadExport(
        { image, pack: engine.pack, knobs: prefs.knobs, columns: ask.columns, history: history.entries, question: lastAsk.current?.question },
        format,
      );
    },
    [image, engine.pack, prefs.knobs, ask.columns, history.entries],
  );

  hostEvents.current = (e: HostEvent) => {
    if (e.type === 'image') loadImageBytes(e.image.bytes, e.image.name).then(setNewImage, (err: Error) => engine.notify('error', err.message));
    else if (e.type === 'command') {
      if (e.command === 'open-image') fileInput.current?.click();
      else if (e.command === 'export') doExport();
      else if (e.command === 'stop') ask.stop();
      else if (e.command === 'focus-question') questionRef.current?.focus();
      else if (e.command === 'toggle-theme') updatePrefs({ theme: prefs.theme === 'dark' ? 'light' : 'dark' });
      else if (e.command === 'ask') askNow();
    }
  };

  // Window-wide gestures: Esc stops, Ctrl/Cmd+O opens, paste and drop load an image.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') ask.stop();
      else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'o' && bridge.kind === 'web') {
        e.preventDefault();
        fileInput.current?.click();
      }
    };
    const onPaste = (e: ClipboardEvent) => {
      const f = firstImageFile(e.clipboardData?.files);
      if (f) {
        e.preventDefault();
        openFile(f);
      }
    };
    const onDragOver = (e: DragEvent) => {
      e.preventDefault();
      setDragging(true);
    };
    const onDragLeave = (e: DragEvent) => {
      if (!e.relatedTarget) setDragging(false);
    };
    const onDrop = (e: DragEvent) => {
      e.preventDefault();
      setDragging(false);
      const f = firstImageFile(e.dataTransfer?.files);
      if (f) openFile(f);
      else if (dropHasFolder(e.dataTransfer) && bridge.kind === 'web')
        engine.notify('error', 'Folders cannot be dropped in a browser: use “Open pack…” with its path on the server.');
    };
    window.addEventListener('keydown', onKey);
    window.addEventListener('paste', onPaste);
    window.addEventListener('dragover', onDragOver);
    window.addEventListener('dragleave', onDragLeave);
    window.addEventListener('drop', onDrop);
    return () => {
      window.removeEventListener('keydown', onKey);
      window.removeEventListener('paste', onPaste);
      window.removeEventListener('dragover', onDragOver);
      window.removeEventListener('dragleave', onDragLeave);
      window.removeEventListener('drop', onDrop);
    };
  }, [ask, bridge.kind, openFile, engine]);

  const disabledReason = !image
    ? 'Open an image first'
    : !question.trim()
      ? 'Type a question'
      : runnable.length === 0
        ? engine.packError
          ? `No pack: ${engine.packError}`
          : 'The pack has no answer mode available'
        : undefined;

  return (
    <div className="app" data-host={bridge.kind}>
      <TopBar
        theme={prefs.theme}
        onTheme={(theme) => updatePrefs({ theme })}
        onExport={() => doExport('json')}
        onExportMarkdown={() => doExport('md')}
        canExport={!!image}
        canOpenPack={bridge.canOpenPackByPath}
        onOpenPack={(dir) => void engine.openPack(dir)}
        onBrowsePack={
          bridge.pickPath
            ? () =>
                void bridge.pickPath?.({ kind: 'directory', title: 'Open Model Pack (a folder with pack.json)' }).then((dir) => {
                  if (dir) void engine.openPack(dir);
                })
            : undefined
        }
        showAttention={prefs.showAttention}
        onShowAttention={(showAttention) => updatePrefs({ showAttention })}
        showExtraModes={prefs.showExtraModes}
        onShowExtraModes={(showExtraModes) => updatePrefs({ showExtraModes })}
        hostKind={bridge.kind}
        tabs={<ViewTabs view={view} onView={setView} />}
        recent={recentPacks.recent}
        onPackMenu={() => void recentPacks.check()}
        onForgetRecent={recentPacks.forget}
      />
      {view === 'models' && <ModelsView bridge={bridge} pack={engine.pack} packError={engine.packError} onOpenPack={engine.openPack} />}
      <EvalView hidden={view !== 'eval'} bridge={bridge} pack={engine.pack} onEvent={engine.onProgress} notify={engine.notify} />
      {view === 'features' && <FeaturesView bridge={bridge} pack={engine.pack} image={image} question={question} onImage={openFile} notify={engine.notify} />}
      <main className="workbench" hidden={view !== 'ask'}>
        <aside className="left">
          <ImagePane image={image} attention={attention} showAttention={prefs.showAttention} dragging={dragging} fileInput={fileInput} onFile={openFile} />
          {image && <HistoryPanel entries={history.entries} modes={modes} onRerun={rerunEntry} onRemove={history.remove} onClear={history.clear} />}
        </aside>
        <section className="right">
          <QuestionBar
            question={question}
            onChange={setQuestion}
            onAsk={askNow}
            onStop={() => ask.stop()}
            busy={ask.busy}
            disabledReason={disabledReason}
            inputRef={questionRef}
          />
          <KnobsPanel
            knobs={prefs.knobs}
            pack={engine.pack}
            autoRerun={prefs.autoRerun}
            onKnobs={updateKnobs}
            onAutoRerun={(autoRerun) => updatePrefs({ autoRerun })}
            onReset={() => updateKnobs({ ...EMPTY_KNOBS })}
          />
          <AnswerColumns
            modes={modes}
            columns={ask.columns}
            packError={engine.packError}
            onStop={(m) => ask.stop(m)}
            onRetry={(m) => lastAsk.current && void submit(lastAsk.current.question, prefs.knobs, [m])}
          />
        </section>
      </main>
      {engine.notices.length > 0 && (
        <div className="notices" role="status" data-testid="notices">
          {engine.notices.map((n) => (
            <div key={n.id} className={`notice notice-${n.level}`}>
              <span>{n.message}</span>
              <button type="button" className="link small" onClick={() => engine.dismiss(n.id)} aria-label="Dismiss">
                ×
              </button>
            </div>
          ))}
        </div>
      )}
      <StatusBar
        engine={engine.engine}
        connected={engine.connected}
        pack={engine.pack}
        status={engine.status}
        progress={engine.progress}
        busy={ask.busy}
        onRestart={bridge.restartEngine ? () => bridge.restartEngine?.() : undefined}
        provider={provider}
        onProvider={
          bridge.restartEngine
            ? (p) => {
                setProvider(p);
                bridge.restartEngine?.(p);
              }
            : undefined
        }
      />
    </div>
  );
}

function historyAnswers(cols: Record<string, ColumnRun>): Record<string, HistoryAnswer> {
  const out: Record<string, HistoryAnswer> = {};
  for (const [mode, c] of Object.entries(cols)) {
    if (c.status === 'done') out[mode] = { text: c.text, ms: c.ms, tokens: c.tokens, stop: c.stop };
    else if (c.status === 'error') out[mode] = { text: c.text, ms: c.ms, error: c.error?.message ?? 'error' };
    else if (c.status === 'stopped') out[mode] = { text: c.text, ms: c.ms, tokens: c.tokens, stop: 'cancelled' };
  }
  return out;
}
