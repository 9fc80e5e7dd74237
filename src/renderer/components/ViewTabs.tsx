/**
 * The workbench's views: Ask (answers side by side), Features (inside the
 * encoders), Eval (benchmark the modes), Models (the open pack).
 */
export type ViewName = 'ask' | 'features' | 'eval' | 'models';

export const VIEWS: Array<{ id: ViewName; label: string; title: string }> = [
  { id: 'ask', label: 'Ask', title: 'Ask a question; CLIP, diffusion and fused answers side by side' },
  { id: 'features', label: 'Features', title: 'Feature maps layer by layer: PCA, cond/uncond, cross-attention, correspondence' },
  { id: 'eval', label: 'Eval', title: 'Run a benchmark suite over the answer modes' },
  { id: 'models', label: 'Models', title: 'The open pack: components, modes, memory estimate; open or compose a pack' },
];

export function isViewName(v: unknown): v is ViewName {
  return VIEWS.some((x) => x.id === v);
}

export function ViewTabs({ view, onView }: { view: ViewName; onView(v: ViewName): void }) {
  return (
    <nav className="view-tabs" role="tablist" aria-label="Views">
      {VIEWS.map((v) => (
        <button
          key={v.id}
          type="button"
          role="tab"
          aria-selected={view === v.id}
          className={view === v.id ? 'tab active' : 'tab'}
          title={v.title}
          data-testid={`tab-${v.id}`}
          onClick={() => onView(v.id)}
        >
          {v.label}
        </button>
      ))}
    </nav>
  );
}
