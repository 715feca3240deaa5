/**
 * The dashboard's front end: a page per kind of object, each reading the Engine API through
 * /api and kept current by the one event stream. Routes are the address's #fragment.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import '@xterm/xterm/css/xterm.css';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { loadSession, logout, prefetch } from './api';
import { startEventStream } from './events';
import { ContainersPage } from './containers';
import { ContainerPage } from './container';
import { ImagesPage, NetworksPage, VolumesPage } from './resources';
import { EventsPage, SystemPage } from './system';
import { SwarmPage } from './swarm';

const NAV: [string, string][] = [
  ['containers', 'Containers'],
  ['images', 'Images'],
  ['volumes', 'Volumes'],
  ['networks', 'Networks'],
  ['events', 'Events'],
  ['system', 'Disk use'],
  ['swarm', 'Swarm'],
];

function useRoute(): string[] {
  const parse = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [route, setRoute] = useState(parse());
  useEffect(() => {
    const on = () => {
      const next = parse();
      setRoute((now) => (now.join('/') === next.join('/') ? now : next));
    };
    window.addEventListener('hashchange', on);
    // the address may have changed between the first render and this effect, unannounced
    on();
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

function Page({ route }: { route: string[] }) {
  const [kind = 'containers', id, tab] = route;
  switch (kind) {
    case 'containers':
      return id ? <ContainerPage id={id} tab={tab} /> : <ContainersPage />;
    case 'images':
      return <ImagesPage />;
    case 'volumes':
      return <VolumesPage />;
    case 'networks':
      return <NetworksPage />;
    case 'events':
      return <EventsPage />;
    case 'system':
      return <SystemPage />;
    case 'swarm':
      return <SwarmPage />;
    default:
      return <p>Page not found. <a href="#/containers">Containers</a></p>;
  }
}

function App() {
  const route = useRoute();
  const kind = route[0] ?? 'containers';
  return (
    <div class="app">
      <header>
        <a class="brand" href="#/containers">
          berth
        </a>
        <nav aria-label="Main">
          {NAV.map(([k, label]) => (
            <a href={`#/${k}`} aria-current={k === kind ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button class="logout" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      <main>
        <Page route={route} />
      </main>
    </div>
  );
}

function Login() {
  return (
    <main class="login">
      <h1>berth dashboard</h1>
      <p>You are not logged in. On the host, run</p>
      <pre>berth dashboard</pre>
      <p>and open the one-time link it prints.</p>
    </main>
  );
}

async function boot() {
  const root = document.getElementById('app')!;
  // the usual first page's list travels beside the session check
  if (/^(#\/?(containers\/?)?)?$/.test(location.hash)) prefetch('/containers/json?all=1');
  const session = await loadSession();
  root.textContent = '';
  if (!session) {
    render(<Login />, root);
    return;
  }
  startEventStream();
  render(<App />, root);
}

void boot();
