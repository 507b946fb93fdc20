//! Smoke test: the server serves the page, Chromium loads the wasm bundle, the app renders.

use journeyboard_e2e::{screenshot_dir, Browser, TestServer, PAGE_PATIENCE};

#[tokio::test]
async fn the_app_loads_and_renders_in_chromium() -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let server = TestServer::start().await;
    let page = browser.session().await?;

    page.open(&format!("http://{}/", server.addr)).await?;
    page.wait_for_app(PAGE_PATIENCE).await?;

    let path = page.screenshot("smoke").await?;
    assert_eq!(path, screenshot_dir().join("smoke.png"));
    let png = std::fs::read(&path)?;
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG of a page ({} bytes)",
        path.display(),
        png.len()
    );

    let errors: Vec<String> = page
        .console_log()
        .await?
        .into_iter()
        .filter(|line| line.starts_with("SEVERE"))
        .collect();
    assert!(
        errors.is_empty(),
        "errors in the browser console:\n{}",
        errors.join("\n")
    );

    page.close().await?;
    server.stop().await;
    Ok(())
}
