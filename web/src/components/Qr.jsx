// SPDX-License-Identifier: AGPL-3.0-or-later
// A QR code drawn as SVG (no inline style, no data: URL needed).
import qrcode from 'qrcode-generator';

export function Qr({ text, label, size = 220 }) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  const quiet = 4;
  let d = '';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (qr.isDark(r, c)) d += `M${c + quiet} ${r + quiet}h1v1h-1z`;
    }
  }
  const dim = n + quiet * 2;
  return (
    <svg class="qr" role="img" aria-label={label} width={size} height={size} viewBox={`0 0 ${dim} ${dim}`} shape-rendering="crispEdges">
      <rect width={dim} height={dim} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}
