// Compile contracts/SwarmCoordinator.sol with the pinned solc-js into the committed artifact
// swarmd/chain/artifacts/SwarmCoordinator.json, which the daemon and the Python tests read
// (so neither needs Node).
//
//   node contracts/compile.mjs            write the artifact
//   node contracts/compile.mjs --check    compile again and compare bytes; exit 1 on drift
//   node contracts/compile.mjs --out F    write to F instead
//
// The output is byte-for-byte deterministic: solc-js is pinned exactly in package.json,
// and so are the EVM version (solc's default moves with releases) and the optimizer.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCE = "contracts/SwarmCoordinator.sol";
// Every source the contract imports (by its path from the repository root).
const LIBRARIES = ["contracts/Ed25519.sol"];
const CONTRACT = "SwarmCoordinator";
const ARTIFACT = join(ROOT, "swarmd/chain/artifacts/SwarmCoordinator.json");

// Changing any of these changes the bytecode: recompile and commit the artifact.
const SETTINGS = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: "ipfs" },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function fail(message) {
  process.stderr.write(`compile: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = { check: false, out: ARTIFACT };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--check") args.check = true;
    else if (argv[i] === "--out" && i + 1 < argv.length) args.out = argv[++i];
    else fail(`unknown argument ${argv[i]} (usage: compile.mjs [--check] [--out FILE])`);
  }
  return args;
}

function compile() {
  let solc;
  try {
    solc = require("solc");
  } catch {
    fail("solc-js is not installed: run 'npm ci --ignore-scripts' (or 'make install')");
  }
  const input = {
    language: "Solidity",
    sources: Object.fromEntries(
      [SOURCE, ...LIBRARIES].map((path) => [path, { content: readFileSync(join(ROOT, path), "utf8") }]),
    ),
    settings: SETTINGS,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(`${e.formattedMessage}\n`);
  if (errors.length) fail(`${errors.length} error(s) compiling ${SOURCE}`);
  const size = output.contracts[SOURCE][CONTRACT].evm.deployedBytecode.object.length / 2;
  if (size > 24576) fail(`${CONTRACT} is ${size} bytes deployed, over the EIP-170 limit of 24576`);
  const c = output.contracts[SOURCE][CONTRACT];
  const artifact = {
    contractName: CONTRACT,
    sourceName: SOURCE,
    compiler: { name: "solc-js", version: solc.version() },
    settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer, metadata: SETTINGS.metadata },
    abi: c.abi,
    bytecode: "0x" + c.evm.bytecode.object,
    deployedBytecode: "0x" + c.evm.deployedBytecode.object,
  };
  return JSON.stringify(artifact, null, 2) + "\n";
}

const args = parseArgs(process.argv.slice(2));
const text = compile();
if (args.check) {
  let committed;
  try {
    committed = readFileSync(args.out, "utf8");
  } catch {
    fail(`${relative(ROOT, args.out)} is missing: run 'make contracts' and commit it`);
  }
  if (committed !== text) {
    fail(
      `${relative(ROOT, args.out)} does not match ${SOURCE} compiled now ` +
        `(source, compiler or settings changed): run 'make contracts' and commit the artifact`,
    );
  }
  process.stdout.write(`${relative(ROOT, args.out)} is up to date\n`);
} else {
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, text);
  process.stdout.write(`wrote ${relative(ROOT, args.out)}\n`);
}
