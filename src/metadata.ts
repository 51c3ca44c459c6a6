/**
 * The metadata header under its first names. Deprecated: import from metadata-header.ts (the wire
 * contract) and metadata-header-verifier.ts (decode, sign, verify). Kept so that code written
 * against the old module keeps working; it is not a public entry point of the package.
 *
 * @deprecated
 * @module
 */
export {
  encodeMetadataHeader as encodeMetadata,
  MAX_METADATA_BYTES,
  METADATA_HEADER,
  SIGNATURE_HEADER,
} from "./metadata-header.ts";
export {
  createMetadataVerifier,
  decodeMetadataHeader as decodeMetadata,
  type MetadataHeaderFields as ContainerflareMetadata,
  MetadataHeaderSchema as MetadataSchema,
  type MetadataRejection,
  type MetadataResult,
  type MetadataVerifier,
  type MetadataVerifierOptions,
  SIGNATURE_TOLERANCE_MS,
  signMetadataHeader as signMetadata,
} from "./metadata-header-verifier.ts";
