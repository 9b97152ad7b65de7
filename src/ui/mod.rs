//! The studio window (egui/eframe): the only module that uses egui.
//!
//! * [`app`]: the eframe app ([`Studio`]), a thin shell: it lets each panel draw itself and
//!   applies the [`command::Command`]s the panels return and the events the workers send, in
//!   one place each (`app::apply`, `app::events`); shortcuts and the automation driver.
//! * [`command`]: what panels can ask for. [`prefs`]: the one copy of what is remembered.
//! * [`canvas`]: zoom, pan and the mask tools; [`doc`]: the photo, the mask and the undo
//!   history (strokes kept as data, patches of changed pixels).
//! * [`overlay`]: mask tint and maps (hard maps computed live, soft map, prior, diversity);
//!   [`gpu`]: the WGSL colormap paint callback; [`field`]: what both share;
//!   [`textures`]: dirty-rectangle texture updates.
//! * [`gallery`]: the samples of a generation; [`training_panel`]: training runs.
//! * [`workers`]: the inference worker ([`crate::inference::worker`]), the training worker and
//!   the file thread behind one handle; [`script`]: automation; [`theme`]: colours and sizes.
//!
//! Only plain data reaches this module from the rest of the crate: images, masks, numbers,
//! paths and seeds; never a tensor.

pub mod app;
pub mod canvas;
pub mod command;
pub mod doc;
pub mod field;
pub mod gallery;
pub mod gpu;
pub mod overlay;
pub mod prefs;
pub mod script;
pub mod steer;
pub mod strip;
pub mod textures;
pub mod theme;
pub mod training_panel;
pub mod workers;

use std::path::PathBuf;

pub use app::{Studio, StudioOptions};

use crate::backend::BackendChoice;
use crate::error::{Error, Result};

/// Opens the studio window (blocks until it closes), optionally with a photo.
///
/// # Errors
/// [`Error::Backend`] when the window cannot be created (no display, no GPU driver eframe can
/// use).
pub fn run(photo: Option<PathBuf>, backend: BackendChoice, script: script::Script) -> Result<()> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("pdpaint")
            .with_app_id("pdpaint")
            .with_inner_size([1400.0, 900.0])
            .with_min_inner_size([640.0, 400.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        ..eframe::NativeOptions::default()
    };
    // Model and training work must not take the UI thread's cores.
    crate::threads::background_compute_pool();
    eframe::run_native(
        "pdpaint",
        native,
        Box::new(move |cc| {
            theme::apply(&cc.egui_ctx);
            let prefs = prefs::Prefs::load(cc.storage);
            let ctx = cc.egui_ctx.clone();
            let waker: workers::Waker = std::sync::Arc::new(move || ctx.request_repaint());
            let mut studio = Studio::new(
                StudioOptions {
                    photo,
                    backend,
                    script,
                    ..StudioOptions::default()
                },
                prefs,
                Some(waker),
            );
            if let Some(rs) = &cc.wgpu_render_state {
                studio.set_gpu(gpu::init(rs));
                let info = rs.adapter.get_info();
                studio.renderer = format!("wgpu {:?}: {}", info.backend, info.name);
            }
            Ok(Box::new(studio))
        }),
    )
    .map_err(|e| Error::Backend(format!("could not open the window: {e}")))
}
