import { LabIcon } from '@jupyterlab/ui-components';

// A two-link arm over a base, drawn for CoSim.
const COSIM_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="3" y="19" width="10" height="3" rx="1"/>
    <circle cx="8" cy="17" r="2"/>
    <path d="M7.2 16.4 L11.6 7.6 L13.4 8.5 L9 17.3 Z"/>
    <circle cx="12.5" cy="8" r="1.8"/>
    <path d="M12.3 7.1 L19.4 4.6 L20 6.5 L12.9 9 Z"/>
    <path d="M19.6 3.2 L22 4.4 L21.3 5.6 L20.6 5.2 L20.8 7.2 L19.5 7.3 Z"/>
  </g>
</svg>`;

export const cosimIcon = new LabIcon({ name: '@cosim/labextension:cosim', svgstr: COSIM_SVG });

/** One 24x24 glyph per feature, in Lab's icon colour class so themes recolour it. */
function featureIcon(name: string, body: string): LabIcon {
  return new LabIcon({
    name: `@cosim/labextension:${name}`,
    svgstr: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">${body}</g></svg>`
  });
}

// The live viewer: a cube seen in perspective, with a play mark.
export const viewerIcon = featureIcon(
  'viewer',
  `<path d="M12 2 21 7v10l-9 5-9-5V7Zm0 2.3L5.4 8 12 11.7 18.6 8ZM5 9.7v6.1l6 3.4v-6.1Zm14 0-6 3.4v6.1l6-3.4Z"/>`
);

// Snapshots: a camera body with its lens.
export const snapshotsIcon = featureIcon(
  'snapshots',
  `<path d="M8.5 4h7l1.5 2.5H21a1 1 0 0 1 1 1V19a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V7.5a1 1 0 0 1 1-1h4Zm3.5 4a5 5 0 1 0 0 10 5 5 0 0 0 0-10Zm0 2a3 3 0 1 1 0 6 3 3 0 0 1 0-6Z"/>`
);

// Jobs: a rising curve over bars (training in the background).
export const jobsIcon = featureIcon(
  'jobs',
  `<rect x="3" y="14" width="3" height="7" rx=".5"/><rect x="8.5" y="11" width="3" height="10" rx=".5"/><rect x="14" y="8" width="3" height="13" rx=".5"/><path d="M3 10.5 9.5 6l4 2.5L20.3 3l1.2 1.5-8 6.3-4-2.5L4.1 12Z"/>`
);

// Courses: a mortarboard.
export const coursesIcon = featureIcon(
  'courses',
  `<path d="M12 3 1 8.5 12 14l9-4.5V16h2V8.5Zm-6 9.2V16c0 1.7 2.7 3.5 6 3.5s6-1.8 6-3.5v-3.8L12 15.2Z"/>`
);

// C++ builds: a wrench.
export const buildIcon = featureIcon(
  'build',
  `<path d="M21.7 6.3 18 10l-3.5-.5L14 6l3.7-3.7a6 6 0 0 0-7.5 7.6L2.6 17.5a2.1 2.1 0 0 0 3 3l7.6-7.6a6 6 0 0 0 7.6-7.5Z"/>`
);

// Job templates: a flask (an experiment to launch).
export const templatesIcon = featureIcon(
  'templates',
  `<path d="M9 2h6v2h-1v5.2l5.6 9.3A2.3 2.3 0 0 1 17.6 22H6.4a2.3 2.3 0 0 1-2-3.5L10 9.2V4H9Zm3 8.5L8.4 16.5h7.2Z"/>`
);
