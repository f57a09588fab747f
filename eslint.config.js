import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**', '.scratch/**', '**/*.cjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    // One composition root (src/lib/app): state lives in the app an invocation runs with, never in a
    // module. A module-level `let`, cache or registry, or an exported setter/resetter, would be a second,
    // process-wide root that two apps in one process (the dev host, tests) would share.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'Program > VariableDeclaration[kind="let"], Program > ExportNamedDeclaration > VariableDeclaration[kind="let"]',
          message: 'No module-level `let` in src/: keep the state in the app (src/lib/app) or in the object that owns it.',
        },
        {
          // Weak collections and LRU caches exist to be filled at run time: always state.
          selector: [
            'Program > VariableDeclaration > VariableDeclarator > NewExpression[callee.name=/^(WeakMap|WeakSet|WeakRef|FinalizationRegistry|LRUCache)$/]',
            'Program > ExportNamedDeclaration > VariableDeclaration > VariableDeclarator > NewExpression[callee.name=/^(WeakMap|WeakSet|WeakRef|FinalizationRegistry|LRUCache)$/]',
          ].join(', '),
          message: 'No module-level cache in src/: make it a field of the object that owns it (the app built in src/lib/app, or a client the app builds once), so two apps in one process share nothing.',
        },
        {
          // A constant lookup table is built from its entries (`new Set(['a', 'b'])`, `new Map(pairs)`);
          // an empty one at module level is there to be filled at run time, i.e. a registry.
          selector: [
            'Program > VariableDeclaration > VariableDeclarator > NewExpression[callee.name=/^(Map|Set)$/][arguments.length=0]',
            'Program > ExportNamedDeclaration > VariableDeclaration > VariableDeclarator > NewExpression[callee.name=/^(Map|Set)$/][arguments.length=0]',
          ].join(', '),
          message:
            'No module-level empty Map or Set in src/: one filled at run time is a registry and belongs to the object that owns it (the app built in src/lib/app, or a client the app builds once). Build a constant table from its entries: `new Set([...])`.',
        },
        {
          selector: 'Program > ExportNamedDeclaration > FunctionDeclaration[id.name=/^(set|reset)[A-Z]/]',
          message: 'No exported setters or resetters in src/: build an app with overrides (createApp) instead.',
        },
      ],
    },
  },
  {
    // The state layer is used through its public surface (src/lib/state/index.ts) only: its engine
    // (tiers, journal, breakers) and its files can change without touching a caller. Tests and
    // benchmarks of the internals may import them directly.
    files: ['src/**/*.ts'],
    ignores: ['src/lib/state/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)state/(?!index\\.js$).+',
              message: 'Import the state layer from its index (src/lib/state/index.ts), not from its files.',
            },
          ],
        },
      ],
    },
  },
  {
    // Allowed: OpenTelemetry is process-global by design (the API registers one tracer, meter and logger
    // provider per process), so the SDK started for it, its instruments and the log sink that forwards to
    // its logger provider follow the provider, not an app.
    files: ['src/lib/telemetry/otel.ts', 'src/lib/telemetry/metrics.ts', 'src/lib/telemetry/logger.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['test/**', 'bench/**', 'emulators/**', 'tools/**'],
    rules: { 'no-console': 'off' },
  },
);
