// Type-checks the generated dashboard against Grafana's schema types (@grafana/schema).
// tests/test_dashboard.py writes generated/dashboard.ts, which imports this file's `Json` type:
//   const dashboard: Json<Dashboard> = { ...the JSON... };
// and runs tsc on it. Json<T> is T as JSON spells it: a TypeScript string enum (ThresholdsMode,
// MappingType...) accepts only its members, not the equal string that a JSON file holds, so
// string enums become the union of their values. Everything else (key names, types, required
// keys, literal unions) is checked as @grafana/schema declares it.
export type Json<T> = T extends string
  ? string extends T
    ? T
    : `${T}`
  : T extends readonly (infer U)[]
    ? Json<U>[]
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;
