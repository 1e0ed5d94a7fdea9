// Lints the program, its tests and tools: typescript-eslint's recommended
// rules, and the length limits that keep each part of the program readable
// on its own (a function of 80 lines, a file of 250).
import eslint from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
    // Written by `npm run gen` from the schema, not by hand.
    { ignores: ["dist/", "node_modules/", "src/shape.generated.ts"] },
    eslint.configs.recommended,
    tseslint.configs.recommended,
    {
        rules: {
            "max-lines": ["error", { max: 250 }],
            "max-lines-per-function": ["error", { max: 80 }],
            // A rest sibling drops a key on purpose (lambda.ts: DB_SECRET_ARN).
            "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true, varsIgnorePattern: "^_" }],
        },
    },
    {
        // A test file's describe callback holds all its tests: the file's
        // limit is the one that matters there. The mocks' inputs are untyped.
        files: ["tests/**/*.ts"],
        rules: {
            "max-lines-per-function": ["error", { max: 250 }],
            "@typescript-eslint/no-explicit-any": "off",
        },
    },
    {
        files: ["**/*.mjs"],
        languageOptions: { globals: { process: "readonly", console: "readonly" } },
    },
);
