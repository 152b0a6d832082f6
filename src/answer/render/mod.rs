//! Response bytes: the text mirrorlist, the metalink document, and their failure forms,
//! laid out byte for byte as MirrorManager's production server writes them (spec section 9),
//! with XML escaping added (decision 7).

pub mod metalink;
pub mod text;
pub mod urls;
