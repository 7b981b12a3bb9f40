/**
 * productpage's HTML. Star markers are stable for tests (documented in samples/README.md):
 * filled `<span class="glyphicon glyphicon-star" data-star="filled" data-color="<color>" ...>`,
 * outline `<span class="glyphicon glyphicon-star-empty" data-star="empty" data-color="<color>" ...>`,
 * rating error `<p class="rating-error" style="color:red">`.
 */

export interface Product {
  id: number;
  title: string;
  descriptionHtml: string;
}

export const PRODUCTS: Product[] = [{
  id: 0,
  title: 'The Comedy of Errors',
  descriptionHtml: '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: '
    + 'The Comedy of Errors is one of <b>William Shakespeare\'s</b> early plays, and his shortest comedy: '
    + 'two pairs of identical twins separated at birth, one long day of mistaken identities, slapstick and puns.',
}];

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `body{font-family:Helvetica,Arial,sans-serif;margin:0;color:#333}
nav{background:#222;color:#fff;padding:10px 20px;display:flex;justify-content:space-between;align-items:center}
nav a,nav button{color:#fff}main{padding:0 20px}.cols{display:flex;gap:40px;flex-wrap:wrap}
.cols>section{flex:1;min-width:280px}blockquote{border-left:4px solid #ddd;margin:10px 0;padding:5px 15px}
.glyphicon{font-size:1.3em}.rating-error{color:red}dt{font-weight:bold}`;

export function productpageCss(): string {
  return STYLE;
}

function layout(title: string, user: string | undefined, body: string): string {
  const account = user
    ? `<span>${escapeHtml(user)} <a href="/logout" id="sign-out">(sign out)</a></span>`
    : `<form method="post" action="/login" id="login-form">
<input name="username" placeholder="User Name" aria-label="User Name">
<input name="password" type="password" placeholder="Password" aria-label="Password">
<button type="submit">Sign in</button></form>`;
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/static/bookinfo.css"></head>
<body><nav><a href="/">BookInfo Sample</a>${account}</nav>
<main>${body}</main></body></html>
`;
}

export function renderIndex(): string {
  return layout('Simple Bookstore App', undefined, `<h2>Hello! This is a simple bookstore application consisting of three services as shown below</h2>
<p>productpage calls details and reviews; reviews v2 and v3 call ratings.</p>
<p><a href="/productpage?u=normal">Normal user</a> | <a href="/productpage?u=test">Test user</a></p>`);
}

function renderDetails(details: Record<string, unknown>): string {
  if (typeof details.error === 'string') {
    return `<h4 class="details-error">Error fetching product details!</h4><p>${escapeHtml(details.error)}</p>`;
  }
  const row = (label: string, key: string): string =>
    `<dt>${label}:</dt><dd>${escapeHtml(details[key] ?? '')}</dd>`;
  return `<dl>${row('Type', 'type')}${row('Pages', 'pages')}${row('Publisher', 'publisher')}${row('Language', 'language')}`
    + `${row('ISBN-10', 'ISBN-10')}${row('ISBN-13', 'ISBN-13')}</dl>`;
}

function renderRating(rating: unknown): string {
  if (typeof rating !== 'object' || rating === null) return '';
  const r = rating as { stars?: unknown; color?: unknown; error?: unknown };
  if (typeof r.error === 'string') return `<p class="rating-error" style="color:red">${escapeHtml(r.error)}</p>`;
  const stars = Math.max(0, Math.min(5, Math.trunc(Number(r.stars) || 0)));
  const color = escapeHtml(typeof r.color === 'string' ? r.color : 'black');
  const star = (kind: 'filled' | 'empty'): string =>
    `<span class="glyphicon glyphicon-star${kind === 'filled' ? '' : '-empty'}" data-star="${kind}" data-color="${color}" style="color:${color}">${kind === 'filled' ? '&#9733;' : '&#9734;'}</span>`;
  return `<p class="rating" data-stars="${stars}">${star('filled').repeat(stars)}${star('empty').repeat(5 - stars)}</p>`;
}

function renderReviews(reviews: Record<string, unknown>): string {
  if (typeof reviews.error === 'string') {
    return `<h4 class="reviews-error">Error fetching product reviews!</h4><p>${escapeHtml(reviews.error)}</p>`;
  }
  const list = Array.isArray(reviews.reviews) ? reviews.reviews as Array<Record<string, unknown>> : [];
  const items = list.map((r) => `<blockquote class="review" data-reviewer="${escapeHtml(r.reviewer ?? '')}">
<p>${escapeHtml(r.text ?? '')}</p><small>${escapeHtml(r.reviewer ?? '')}</small>
${renderRating(r.rating)}</blockquote>`).join('\n');
  const cluster = reviews.clustername && reviews.clustername !== 'null'
    ? `<p id="reviews-cluster">on cluster ${escapeHtml(reviews.clustername)}</p>` : '';
  return `${items}\n<p id="reviews-served-by">Reviews served by: ${escapeHtml(reviews.podname ?? '')}</p>${cluster}`;
}

export function renderProductpage(
  product: Product,
  details: Record<string, unknown>,
  reviews: Record<string, unknown>,
  user: string | undefined,
): string {
  return layout(product.title, user, `<h3 class="title">${escapeHtml(product.title)}</h3>
<p class="summary">${product.descriptionHtml}</p>
<div class="cols">
<section id="details"><h4>Book Details</h4>${renderDetails(details)}</section>
<section id="reviews"><h4>Book Reviews</h4>${renderReviews(reviews)}</section>
</div>`);
}
