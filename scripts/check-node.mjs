// Beacon runs TypeScript sources directly (Node's type stripping) and needs Node ≥ 22.12. On an older
// Node that fails with a stack trace about the ".ts" extension; say what is wrong in one line instead.
// Plain JavaScript that any Node can parse. Also the preinstall check, so `npm install` on an old Node stops with the same line.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  const how = 'install Node 22 (e.g. `npm install --prefix .tools node@22` and put .tools/node_modules/node/bin first on PATH)';
  console.error(`Beacon needs Node >= 22.12; this is Node ${process.versions.node}: ${how}.`);
  process.exit(1);
}
