//! Which page the URL asks for: `/` is home; `/b/{id}#t=TOKEN` is a board (the token stays in
//! the fragment, so it never reaches server logs).

/// A page of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Home,
    Board { id: String, token: String },
    NotFound,
}

impl Route {
    /// Reads the route from a path and a fragment (`#t=...`).
    pub fn parse(path: &str, hash: &str) -> Route {
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            return Route::Home;
        }
        let Some(id) = path.strip_prefix("/b/") else {
            return Route::NotFound;
        };
        let token = hash
            .trim_start_matches('#')
            .split('&')
            .find_map(|pair| pair.strip_prefix("t="))
            .unwrap_or_default();
        Route::Board {
            id: id.to_string(),
            token: token.to_string(),
        }
    }

    /// The route of the page the browser is showing.
    pub fn current() -> Route {
        let location = web_sys::window().expect("window").location();
        Route::parse(
            &location.pathname().unwrap_or_default(),
            &location.hash().unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_board_links() {
        assert_eq!(Route::parse("/", ""), Route::Home);
        assert_eq!(
            Route::parse("/b/abc", "#t=tok-en_1"),
            Route::Board {
                id: "abc".into(),
                token: "tok-en_1".into()
            }
        );
        assert_eq!(
            Route::parse("/b/abc", ""),
            Route::Board {
                id: "abc".into(),
                token: String::new()
            }
        );
        assert_eq!(Route::parse("/elsewhere", ""), Route::NotFound);
    }
}
