//! The XML bodies of the API, byte for byte as release automation knows them: the
//! declaration and the root on one line, empty elements self-closing, attributes in a
//! fixed order, and `& < > "` escaped (apostrophes are not).

use crate::catalogue::locations::ProductLocations;
use crate::catalogue::products::ProductView;
use crate::catalogue::uptake::UptakeItem;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use quick_xml::Writer;
use std::borrow::Cow;
use std::io;

/// An XML document being written.
struct Doc(Writer<Vec<u8>>);

impl Doc {
    fn new() -> io::Result<Self> {
        let mut w = Writer::new(Vec::with_capacity(256));
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        Ok(Self(w))
    }

    fn tag<'a>(name: &'a str, attrs: &[(&'a str, &str)]) -> BytesStart<'a> {
        let mut start = BytesStart::new(name);
        for (key, value) in attrs {
            start.push_attribute(Attribute {
                key: QName(key.as_bytes()),
                value: Cow::Owned(escape(value).into_bytes()),
            });
        }
        start
    }

    /// `<name attrs>` … `</name>` around what `children` writes, or `<name attrs/>` when
    /// there are no children.
    fn element(
        &mut self,
        name: &str,
        attrs: &[(&str, &str)],
        has_children: bool,
        children: impl FnOnce(&mut Self) -> io::Result<()>,
    ) -> io::Result<()> {
        if !has_children {
            return self.0.write_event(Event::Empty(Self::tag(name, attrs)));
        }
        self.0.write_event(Event::Start(Self::tag(name, attrs)))?;
        children(self)?;
        self.0.write_event(Event::End(BytesEnd::new(name)))
    }

    /// `<name attrs>text</name>` (self-closing when the text is empty).
    fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> io::Result<()> {
        self.element(name, attrs, !text.is_empty(), |d| {
            d.0.write_event(Event::Text(BytesText::from_escaped(escape(text))))
        })
    }

    fn finish(self) -> Vec<u8> {
        self.0.into_inner()
    }
}

/// Escapes `& < > "`.
fn escape(s: &str) -> String {
    quick_xml::escape::partial_escape(s).replace('"', "&quot;")
}

/// A document whose root holds what `each` writes for every item (`<root/>` when there
/// are none): the shape of every list the API answers.
fn list<T>(
    root: &str,
    items: &[T],
    each: impl Fn(&mut Doc, &T) -> io::Result<()>,
) -> io::Result<Vec<u8>> {
    let mut d = Doc::new()?;
    d.element(root, &[], !items.is_empty(), |d| {
        items.iter().try_for_each(|item| each(d, item))
    })?;
    Ok(d.finish())
}

/// `<product id name>` around what `children` writes (self-closing without children),
/// as both `products` and `locations` name a product.
fn product(
    d: &mut Doc,
    id: i32,
    name: &str,
    has_children: bool,
    children: impl FnOnce(&mut Doc) -> io::Result<()>,
) -> io::Result<()> {
    let id = id.to_string();
    d.element(
        "product",
        &[("id", &id), ("name", name)],
        has_children,
        children,
    )
}

/// `<products><product id name><language locale/>…</product>…</products>`
pub fn products(products: &[ProductView]) -> io::Result<Vec<u8>> {
    list("products", products, |d, p| {
        product(d, p.id, &p.name, !p.languages.is_empty(), |d| {
            p.languages
                .iter()
                .try_for_each(|l| d.element("language", &[("locale", l)], false, |_| Ok(())))
        })
    })
}

/// `<locations><product id name><location id os>PATH</location>…</product>…</locations>`
pub fn locations(products: &[ProductLocations]) -> io::Result<Vec<u8>> {
    list("locations", products, |d, p| {
        product(d, p.id, &p.name, !p.locations.is_empty(), |d| {
            p.locations.iter().try_for_each(|l| {
                let id = l.id.to_string();
                d.text("location", &[("id", &id), ("os", &l.os)], &l.path)
            })
        })
    })
}

/// `<mirror_uptake><item><product/><os/><available/><total/></item>…</mirror_uptake>`
pub fn uptake(items: &[UptakeItem]) -> io::Result<Vec<u8>> {
    list("mirror_uptake", items, |d, i| {
        d.element("item", &[], true, |d| {
            d.text("product", &[], &i.product)?;
            d.text("os", &[], &i.os)?;
            d.text("available", &[], &i.available.to_string())?;
            d.text("total", &[], &i.total.to_string())
        })
    })
}

/// `<mirrors><mirror baseurl="…"/>…</mirrors>`
pub fn mirrors(baseurls: &[String]) -> io::Result<Vec<u8>> {
    list("mirrors", baseurls, |d, url| {
        d.element("mirror", &[("baseurl", url)], false, |_| Ok(()))
    })
}

/// `<success>message</success>`
pub fn success(message: &str) -> io::Result<Vec<u8>> {
    let mut d = Doc::new()?;
    d.text("success", &[], message)?;
    Ok(d.finish())
}

/// `<error number="N">message</error>`
pub fn error(number: u16, message: &str) -> io::Result<Vec<u8>> {
    let mut d = Doc::new()?;
    d.text("error", &[("number", &number.to_string())], message)?;
    Ok(d.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: io::Result<Vec<u8>>) -> String {
        String::from_utf8(b.unwrap()).unwrap()
    }

    const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

    #[test]
    fn empty_documents_self_close() {
        assert_eq!(s(products(&[])), format!("{DECL}<products/>"));
        assert_eq!(s(locations(&[])), format!("{DECL}<locations/>"));
        assert_eq!(s(mirrors(&[])), format!("{DECL}<mirrors/>"));
    }

    #[test]
    fn products_keep_attribute_order_and_escape() {
        let p = ProductView {
            id: 7,
            name: r#"A&B <"x"> 'y'"#.into(),
            active: true,
            ssl_only: false,
            checknow: true,
            languages: vec!["de".into(), "en-US".into()],
        };
        assert_eq!(
            s(products(&[p])),
            format!(
                "{DECL}<products><product id=\"7\" name=\"A&amp;B &lt;&quot;x&quot;&gt; 'y'\">\
                 <language locale=\"de\"/><language locale=\"en-US\"/></product></products>"
            )
        );
    }

    #[test]
    fn errors_and_success() {
        assert_eq!(
            s(error(104, "product <already> exists.")),
            format!("{DECL}<error number=\"104\">product &lt;already&gt; exists.</error>")
        );
        assert_eq!(
            s(success("SUCCESS: \"ok\" & done")),
            format!("{DECL}<success>SUCCESS: &quot;ok&quot; &amp; done</success>")
        );
    }
}
