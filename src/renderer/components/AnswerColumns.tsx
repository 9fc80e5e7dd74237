/**
 * The side-by-side answers: one column per answer mode of the pack
 * (CLIP-only, diffusion-only, fused, …), each streaming its tokens with its
 * own clock and stop button. Modes the pack cannot serve stay visible,
 * disabled, with the pack's reason, so the comparison's shape never changes.
 */
import { useEffect, useState } from 'react';
import type { ModeInfo } from '../../shared/contract.js';
import { answerSpeed, formatMs } from '../lib/format.js';
import type { ColumnRun } from '../state/use-ask.js';

const STATUS_LABEL: Record<ColumnRun['status'], string> = {
  idle: '',
  queued: 'queued',
  running: 'generating',
  done: 'done',
  stopped: 'stopped',
  error: 'error',
};

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 100);
    return () => clearInterval(t);
  }, [active]);
  return now;
}

function Column({ mode, run, onStop, onRetry }: { mode: ModeInfo; run: ColumnRun | undefined; onStop(): void; onRetry(): void }) {
  const status = run?.status ?? 'idle';
  const active = status === 'running' || status === 'queued';
  const now = useNow(status === 'running');
  const ms = status === 'running' && run?.startedAt ? now - run.startedAt : run?.ms;
  const [copied, setCopied] = useState(false);
  const copy = () => {
    if (!run?.text) return;
    navigator.clipboard?.writeText(run.text).then(
      () => {
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      },
      () => undefined,
    );
  };
  return (
    <section
      className={`answer-col status-${status}${mode.available ? '' : ' unavailable'}`}
      data-testid={`answer-${mode.id}`}
      data-mode={mode.id}
      data-status={mode.available ? status : 'unavailable'}
      data-runs={run?.runs ?? 0}
      aria-label={`${mode.label} answer`}
      aria-busy={active}
    >
      <header>
        <div className="col-title">
          <h2 title={mode.description}>{mode.label}</h2>
          <span className="muted small">
            {mode.inputs.join(' + ')}
            {mode.fusion !== 'none' ? ` · ${mode.fusion}` : ''}
          </span>
        </div>
        <div className="col-meta">
          {status !== 'idle' && <span className={`badge badge-${status}`}>{STATUS_LABEL[status]}</span>}
          <span className="time" data-testid={`time-${mode.id}`}>
            {formatMs(ms)}
          </span>
          {active && (
            <button type="button" className="small" onClick={onStop} data-testid={`stop-${mode.id}`} title={`Stop ${mode.label}`}>
              Stop
            </button>
          )}
          {status === 'done' && !!run?.text.trim() && (
            <button type="button" className="small link" onClick={copy} data-testid={`copy-${mode.id}`} title={`Copy the ${mode.label} answer`}>
              {copied ? 'copied' : 'copy'}
            </button>
          )}
        </div>
      </header>
      <div className="answer-body">
        {!mode.available ? (
          <p className="muted" data-testid={`reason-${mode.id}`}>
            Unavailable: {mode.reason ?? 'this pack cannot serve this mode'}
          </p>
        ) : (
          <>
            <p className="answer-text" data-testid={`text-${mode.id}`}>
              {run?.text}
              {status === 'running' && <span className="caret" aria-hidden="true" />}
            </p>
            {status === 'queued' && <p className="muted">Waiting for the engine…</p>}
            {status === 'done' && run && !run.text.trim() && <p className="muted">(empty answer)</p>}
            {status === 'stopped' && <p className="muted small">Stopped after {run?.tokens ?? 0} tokens.</p>}
            {status === 'done' && run?.stop === 'max-tokens' && <p className="muted small">Reached the token limit.</p>}
            {status === 'error' && run?.error && (
              <div className="error-text" role="alert">
                <p>{run.error.message}</p>
                {run.error.hint && <p className="small">{run.error.hint}</p>}
                <button type="button" className="small" onClick={onRetry}>
                  Retry
                </button>
              </div>
            )}
          </>
        )}
      </div>
      {status === 'done' && run && <footer className="muted small">{answerSpeed(run)}</footer>}
    </section>
  );
}

interface Props {
  modes: ModeInfo[];
  columns: Record<string, ColumnRun>;
  onStop(mode: string): void;
  onRetry(mode: string): void;
  packError: string | undefined;
}

export function AnswerColumns({ modes, columns, onStop, onRetry, packError }: Props) {
  if (modes.length === 0) {
    return (
      <div className="answers empty" data-testid="answers">
        <p className="muted">{packError ? `No pack: ${packError}` : 'Loading the model pack…'}</p>
      </div>
    );
  }
  return (
    <div className="answers" data-testid="answers" style={{ gridTemplateColumns: `repeat(${modes.length}, minmax(0, 1fr))` }}>
      {modes.map((m) => (
        <Column key={m.id} mode={m} run={columns[m.id]} onStop={() => onStop(m.id)} onRetry={() => onRetry(m.id)} />
      ))}
    </div>
  );
}
