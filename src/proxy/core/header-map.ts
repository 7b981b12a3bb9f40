/** A header block as the codecs hand it over: lower-case names; undefined = removed (the object keeps its shape). */
export type HeaderMap = Record<string, string | string[] | undefined>;
