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
