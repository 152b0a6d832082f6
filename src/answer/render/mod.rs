//! Response bytes: the text mirrorlist, the metalink document, and their failure forms,
//! laid out byte for byte as MirrorManager's production server writes them (docs/protocol.md section 9),
//! with XML escaping added (decision 7); and two additions beyond it (issue 13): the
//! Metalink 4 document and the redirect's `Link`/`Repr-Digest` values.

pub mod decimal;
pub mod kept;
pub mod links;
pub mod metalink;
pub mod metalink4;
pub mod text;
pub mod url_elements;
pub mod urls;
pub mod xml;
