// SPDX-License-Identifier: AGPL-3.0-or-later
// Bar and line charts (Chart.js on a canvas), each with its numbers in a
// table for keyboard and screen-reader users.
import { useEffect, useRef } from 'preact/hooks';
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController,
  LineElement, PointElement, Tooltip,
} from 'chart.js';
import { fmtNumber, t } from '../i18n.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);

export const PALETTE = ['#1d4e89', '#c2410c', '#15803d', '#7c3aed', '#b91c1c', '#0e7490', '#a16207'];

/*
 * @labels: category names; @series: [{ label, data: [numbers] }].
 * @kind: "bar" or "line"; @horizontal for long category names.
 */
export function ChartFigure({ id, title, labels, series, kind = 'bar', horizontal = false, stacked = false }) {
  const canvas = useRef(null);
  const chart = useRef(null);

  useEffect(() => {
    const cfg = {
      type: kind,
      data: {
        labels,
        datasets: series.map((s, i) => ({
          label: s.label,
          data: s.data,
          backgroundColor: s.color || PALETTE[i % PALETTE.length],
          borderColor: s.color || PALETTE[i % PALETTE.length],
          borderWidth: kind === 'line' ? 2 : 0,
          tension: 0.2,
          pointRadius: kind === 'line' ? 3 : 0,
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: horizontal ? 'y' : 'x',
        plugins: { legend: { display: series.length > 1 }, tooltip: { enabled: true } },
        scales: {
          x: { stacked, ticks: { autoSkip: true, maxRotation: 0 } },
          y: { stacked, beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    };
    if (horizontal) {
      cfg.options.scales = {
        x: { stacked, beginAtZero: true, ticks: { precision: 0 } },
        y: { stacked, ticks: { autoSkip: false } },
      };
    }
    chart.current = new Chart(canvas.current, cfg);
    return () => chart.current && chart.current.destroy();
  }, [JSON.stringify([labels, series, kind, horizontal, stacked])]);

  const summary = series
    .map((s) => `${s.label}: ${labels.map((l, i) => `${l} ${fmtNumber(s.data[i])}`).join(', ')}`)
    .join('; ');
  return (
    <figure class="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <div class={horizontal ? 'chart-box chart-box-tall' : 'chart-box'}>
        <canvas ref={canvas} role="img" aria-label={`${title}. ${summary}`} />
      </div>
      <details>
        <summary>{t('home.show_numbers')}</summary>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('home.category')}</th>
                {series.map((s) => <th scope="col" key={s.label}>{s.label}</th>)}
              </tr>
            </thead>
            <tbody>
              {labels.map((l, i) => (
                <tr key={l}>
                  <th scope="row">{l}</th>
                  {series.map((s) => <td class="num" key={s.label}>{fmtNumber(s.data[i])}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
