/**
 * "Browse…" beside a path field: the system file dialog, in the desktop app
 * only (the web page cannot see the server's disk, and there the field is
 * typed). The desktop app accepts only paths the user picked, so this is how
 * a path field is filled there; a typed path is refused with a hint that
 * points here.
 */
import type { Bridge, PickPathRequest } from '../bridge/index.js';

interface Props extends PickPathRequest {
  bridge: Bridge;
  onPick: (path: string) => void;
  testId?: string;
}

export function BrowseButton({ bridge, onPick, testId, ...req }: Props) {
  if (!bridge.pickPath) return null;
  const pick = bridge.pickPath.bind(bridge);
  return (
    <button
      type="button"
      title={req.title}
      data-testid={testId}
      onClick={() => {
        void pick(req).then(
          (p) => p && onPick(p),
          () => undefined,
        );
      }}
    >
      Browse…
    </button>
  );
}
