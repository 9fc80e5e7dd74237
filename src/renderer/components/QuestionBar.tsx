/**
 * The question box: Enter asks (Shift+Enter for a new line), Esc stops every
 * column (handled window-wide in App), and the Ask / Stop buttons do the same
 * by mouse. Disabled with a reason when there is no image or no mode to run.
 */
import type { RefObject } from 'react';

interface Props {
  question: string;
  onChange(q: string): void;
  onAsk(): void;
  onStop(): void;
  busy: boolean;
  disabledReason: string | undefined;
  inputRef: RefObject<HTMLTextAreaElement | null>;
}

export function QuestionBar({ question, onChange, onAsk, onStop, busy, disabledReason, inputRef }: Props) {
  return (
    <div className="question-bar">
      <textarea
        ref={inputRef}
        rows={2}
        value={question}
        maxLength={4000}
        placeholder="Ask a question about the image…  (Enter to ask, Shift+Enter for a new line, Esc to stop)"
        aria-label="Question"
        data-testid="question"
        onChange={(e) => onChange(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            onAsk();
          }
        }}
      />
      <div className="question-actions">
        <button type="button" className="primary" onClick={onAsk} disabled={!!disabledReason} title={disabledReason ?? 'Ask (Enter)'} data-testid="ask">
          Ask
        </button>
        <button type="button" onClick={onStop} disabled={!busy} title="Stop every column (Esc)" data-testid="stop-all">
          Stop
        </button>
      </div>
    </div>
  );
}
