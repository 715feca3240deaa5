/**
 * Components whose code loads when first shown: the terminal (xterm.js) and the charts
 * (uPlot) are most of the bundle, and the first page needs neither.
 */
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export function lazyComponent<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | undefined;
  let loading: Promise<ComponentType<P>> | undefined;
  return function Lazy(props: P) {
    const [, setReady] = useState(false);
    const [error, setError] = useState('');
    useEffect(() => {
      if (loaded) return;
      loading ??= load();
      loading.then(
        (c) => {
          loaded = c;
          setReady(true);
        },
        (e: Error) => setError(e.message),
      );
    }, []);
    if (error) return <p class="error">Could not load this part of the page: {error}</p>;
    if (!loaded) return <p class="muted">Loading…</p>;
    const C = loaded;
    return <C {...props} />;
  };
}
