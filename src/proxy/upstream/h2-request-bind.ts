/**
 * node:http2's ClientHttp2Session.request() binds the start of every new stream to an
 * AsyncResource (`new AsyncResource('PendingRequest').bind(...)`). Node 20 to 24's
 * AsyncResource.prototype.bind then defines, on each bound function, an `asyncResource`
 * getter/setter pair, each wrapped in util.deprecate (DEP0172): two closures, two validations,
 * two prototype changes and a property-definition call per upstream stream, about 5 % of the
 * sidecar's CPU on an HTTP/2 or gRPC request (profile: bench/profile-sidecar.ts --h2, under
 * request -> bind -> deprecate).
 *
 * installLeanAsyncResourceBind() gives AsyncResource a bind that does what Node's does (the
 * function runs in the resource's async scope with the given or the caller's `this`, and keeps
 * its `length`) and exposes `asyncResource` as a plain read-only value. Only the deprecated
 * property's warning and setter are gone; nothing in Clew or its dependencies reads or sets it.
 * Installed once per process by the HTTP/2 pool (a sidecar is its own process).
 */
import { AsyncResource } from 'node:async_hooks';

type Bindable = (...args: never[]) => unknown;

let installed = false;

function leanBind(this: AsyncResource, fn: Bindable, thisArg?: unknown): Bindable {
  if (typeof fn !== 'function') throw new TypeError('The "fn" argument must be of type function');
  const resource = this;
  const bound =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]): unknown {
          return resource.runInAsyncScope(fn as (...a: unknown[]) => unknown, this, ...args);
        }
      : function (...args: unknown[]): unknown {
          return resource.runInAsyncScope(fn as (...a: unknown[]) => unknown, thisArg, ...args);
        };
  Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, writable: false, value: fn.length });
  Object.defineProperty(bound, 'asyncResource', { configurable: true, enumerable: true, writable: false, value: resource });
  return bound as Bindable;
}

export function installLeanAsyncResourceBind(): void {
  if (installed) return;
  installed = true;
  (AsyncResource.prototype as unknown as { bind: typeof leanBind }).bind = leanBind;
}
