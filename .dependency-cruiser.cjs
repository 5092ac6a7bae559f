/**
 * The layout rules `npm test` enforces (see README, Development):
 * no import cycles; only the process adapter spawns programs; only src/rclone/ runs rclone;
 * only ui/ draws on the terminal;
 * the engine never reaches for the UI, the commands or the run pipeline.
 */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'modules that import each other cannot be understood or tested alone', from: {}, to: { circular: true } },
    {
      name: 'only-the-process-adapter-spawns',
      severity: 'error',
      comment: 'every program (rclone, hooks, crontab, launchctl, systemctl) runs through src/process/',
      from: { path: '^src/', pathNot: '^src/process/' },
      to: { path: '^(node:)?child_process$|^execa$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'only-src-rclone-runs-rclone',
      severity: 'error',
      comment:
        'rclone starts in src/rclone/runner.ts, and only src/rclone/ imports it; every other module is handed an Rclone and imports its type only. ' +
        'One exception: src/context.ts, the wiring that gives each command ctx.locateRclone()',
      from: { path: '^src/', pathNot: '^src/(rclone/|context\\.ts$)' },
      to: { path: '^src/rclone/runner\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'only-ui-renders',
      severity: 'error',
      comment: 'task lists, prompts and colours live in src/ui/ (program.ts colours its one error line)',
      from: { path: '^src/', pathNot: '^src/(ui/|program\\.ts$)' },
      to: { path: '^(listr2|@inquirer/prompts|chalk)$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'engine-is-data-only',
      severity: 'error',
      comment: 'the engine returns plans, events and results as data',
      from: { path: '^src/engine/' },
      to: { path: '^src/(ui|commands|run)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    exclude: { path: '\\.generated\\.' },
  },
};
