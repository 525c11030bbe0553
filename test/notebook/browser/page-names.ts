/** Which names a function's compiled text needs from outside: what the page would lack. */
import ts from 'typescript';

const FILE = '/page-code.js';

/**
 * The names that the compiled function `source` uses and that neither it nor a browser (ES2022 and the DOM, no Node
 * types) defines: type-checked alone, as the page gets it.
 */
export function namesFromOutside(source: string): string[] {
  const options: ts.CompilerOptions = {
    allowJs: true,
    checkJs: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const text = `(${source});\n`;
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) =>
    name === FILE ? ts.createSourceFile(name, text, language) : getSourceFile.call(host, name, language, ...rest);
  host.fileExists = (name) => name === FILE || fileExists.call(host, name);
  host.readFile = (name) => (name === FILE ? text : readFile.call(host, name));
  const program = ts.createProgram([FILE], options, host);
  const names = program
    .getSemanticDiagnostics(program.getSourceFile(FILE))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
    .flatMap((message) => /^Cannot find name '([^']+)'/.exec(message)?.[1] ?? []);
  return [...new Set(names)].sort();
}
