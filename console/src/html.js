// htm bound to Preact: tagged templates in place of JSX, so the sources need no compile step.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
