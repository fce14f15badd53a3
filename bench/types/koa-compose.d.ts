// The little of koa-compose 4.x the bench uses (its @types package drags in all of @types/koa).
declare module 'koa-compose' {
  type Next = () => Promise<unknown>
  type ComposedMiddleware<T> = (context: T, next?: Next) => Promise<unknown>
  export default function compose<T>(middleware: ((context: T, next: Next) => unknown)[]): ComposedMiddleware<T>
}
