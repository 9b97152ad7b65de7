//! The GPU colormap: an egui-wgpu paint callback that draws a quantised single-channel field
//! through `shaders/colormap.wgsl`.
//!
//! [`init`] builds the pipeline once (at start, from eframe's wgpu render state) and stores it in
//! the renderer's callback resources. Each frame a [`FieldCallback`] uploads only the part of
//! the field that changed since the GPU last saw it (tracked in the shared
//! [`FieldData`](crate::ui::field::FieldData)) and draws a quad over the visible part of the
//! field. Without a render state (tests, the glow renderer) the overlay colours on the CPU.

use std::collections::HashMap;

use eframe::egui_wgpu::{self, wgpu};
use egui::Rect;

use crate::ui::doc::PixelRect;
use crate::ui::field::{MapColormap, SharedField, lock, lut};

/// The WGSL source.
pub const SHADER: &str = include_str!("../../shaders/colormap.wgsl");

/// Size of the uniform block (`Params` in the shader).
const PARAMS_SIZE: u64 = 32;

/// The pipeline and the per-field textures, kept in the renderer's callback resources.
pub struct ColormapResources {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    lut_view: wgpu::TextureView,
    fields: HashMap<u64, GpuField>,
}

struct GpuField {
    texture: wgpu::Texture,
    size: (u32, u32),
    params: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

/// Builds the pipeline for the render target `format` (any validation error is caught and
/// returned, so a driver problem falls back to the CPU path instead of aborting).
pub fn create_resources(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    format: wgpu::TextureFormat,
) -> Result<ColormapResources, String> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("pdpaint-colormap"),
        source: wgpu::ShaderSource::Wgsl(SHADER.into()),
    });
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("pdpaint-colormap-layout"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX | wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: std::num::NonZeroU64::new(PARAMS_SIZE),
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 1,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: true },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 2,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 3,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                count: None,
            },
        ],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("pdpaint-colormap-pipeline-layout"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("pdpaint-colormap-pipeline"),
        layout: Some(&pipeline_layout),
        vertex: wgpu::VertexState {
            module: &module,
            entry_point: Some("vs_main"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState {
            topology: wgpu::PrimitiveTopology::TriangleStrip,
            ..wgpu::PrimitiveState::default()
        },
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module: &module,
            entry_point: Some(if format.is_srgb() {
                "fs_linear"
            } else {
                "fs_gamma"
            }),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format,
                blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    });
    let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
        label: Some("pdpaint-colormap-nearest"),
        address_mode_u: wgpu::AddressMode::ClampToEdge,
        address_mode_v: wgpu::AddressMode::ClampToEdge,
        mag_filter: wgpu::FilterMode::Nearest,
        min_filter: wgpu::FilterMode::Nearest,
        ..wgpu::SamplerDescriptor::default()
    });
    // The lookup table: 256×2 RGBA, row 0 viridis, row 1 magma.
    let mut lut_bytes = Vec::with_capacity(256 * 2 * 4);
    for cmap in [MapColormap::Viridis, MapColormap::Magma] {
        for [r, g, b] in lut(cmap) {
            lut_bytes.extend_from_slice(&[*r, *g, *b, 255]);
        }
    }
    let lut_size = wgpu::Extent3d {
        width: 256,
        height: 2,
        depth_or_array_layers: 1,
    };
    let lut_tex = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("pdpaint-colormap-lut"),
        size: lut_size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8Unorm,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture: &lut_tex,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        &lut_bytes,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(256 * 4),
            rows_per_image: Some(2),
        },
        lut_size,
    );
    let lut_view = lut_tex.create_view(&wgpu::TextureViewDescriptor::default());
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(format!("the colormap shader could not be set up: {e}"));
    }
    Ok(ColormapResources {
        pipeline,
        layout,
        sampler,
        lut_view,
        fields: HashMap::new(),
    })
}

/// Sets up the GPU colormap in eframe's renderer. Returns whether it is usable.
pub fn init(render_state: &egui_wgpu::RenderState) -> bool {
    match create_resources(
        &render_state.device,
        &render_state.queue,
        render_state.target_format,
    ) {
        Ok(res) => {
            render_state.renderer.write().callback_resources.insert(res);
            true
        }
        Err(e) => {
            eprintln!("pdpaint: {e}; colouring maps on the CPU");
            false
        }
    }
}

impl ColormapResources {
    /// The GPU texture of field `key`, (re)created when missing or of another size; the flag
    /// says it is new (and must be uploaded whole).
    fn field_for(
        &mut self,
        device: &wgpu::Device,
        key: u64,
        size: (u32, u32),
    ) -> (&mut GpuField, bool) {
        if self.fields.get(&key).is_some_and(|f| f.size != size) {
            self.fields.remove(&key);
        }
        let fresh = !self.fields.contains_key(&key);
        let (layout, sampler, lut_view) = (&self.layout, &self.sampler, &self.lut_view);
        let field = self
            .fields
            .entry(key)
            .or_insert_with(|| make_field(device, layout, sampler, lut_view, size));
        (field, fresh)
    }
}

fn make_field(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    sampler: &wgpu::Sampler,
    lut_view: &wgpu::TextureView,
    size: (u32, u32),
) -> GpuField {
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("pdpaint-field"),
        size: wgpu::Extent3d {
            width: size.0,
            height: size.1,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::R8Unorm,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    let params = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("pdpaint-field-params"),
        size: PARAMS_SIZE,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("pdpaint-field-bind-group"),
        layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: params.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: wgpu::BindingResource::TextureView(&view),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: wgpu::BindingResource::TextureView(lut_view),
            },
            wgpu::BindGroupEntry {
                binding: 3,
                resource: wgpu::BindingResource::Sampler(sampler),
            },
        ],
    });
    GpuField {
        texture,
        size,
        params,
        bind_group,
    }
}

/// Draws one field: see [`field_callback`].
pub struct FieldCallback {
    key: u64,
    field: SharedField,
    /// The whole field on screen (points).
    screen: Rect,
    /// The visible part of it (points), the callback's viewport.
    visible: Rect,
    cmap: MapColormap,
    opacity: f32,
}

/// The paint callback drawing `field` (whose full extent on screen is `screen`) within
/// `visible` with a colormap and opacity.
pub fn field_callback(
    key: u64,
    field: SharedField,
    screen: Rect,
    visible: Rect,
    cmap: MapColormap,
    opacity: f32,
) -> egui::PaintCallback {
    egui_wgpu::Callback::new_paint_callback(
        visible,
        FieldCallback {
            key,
            field,
            screen,
            visible,
            cmap,
            opacity,
        },
    )
}

/// The uniform block for a field drawn at `screen` when the viewport (in points, after egui
/// rounds it to pixels) is `vp`.
pub fn params_bytes(screen: Rect, vp: Rect, opacity: f32, cmap: MapColormap) -> [u8; 32] {
    let size = screen.size();
    let uv = |p: egui::Pos2| -> [f32; 2] {
        [
            if size.x > 0.0 {
                (p.x - screen.min.x) / size.x
            } else {
                0.0
            },
            if size.y > 0.0 {
                (p.y - screen.min.y) / size.y
            } else {
                0.0
            },
        ]
    };
    let [u0, v0] = uv(vp.min);
    let [u1, v1] = uv(vp.max);
    let vals = [u0, v0, u1, v1, opacity, cmap.index() as f32, 0.0, 0.0];
    let mut out = [0u8; 32];
    for (chunk, v) in out.chunks_exact_mut(4).zip(vals) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    out
}

impl egui_wgpu::CallbackTrait for FieldCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        screen_descriptor: &egui_wgpu::ScreenDescriptor,
        _egui_encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(res) = resources.get_mut::<ColormapResources>() else {
            return Vec::new();
        };
        let mut data = lock(&self.field);
        let (w, h) = (data.w, data.h);
        if w == 0 || h == 0 || data.levels.len() != w as usize * h as usize {
            return Vec::new();
        }
        let (gpu, fresh) = res.field_for(device, self.key, (w, h));
        let region = if fresh || data.gpu_full {
            Some(PixelRect::full(w, h))
        } else {
            data.gpu_dirty.map(|r| r.clamp(w, h))
        };
        if let Some(r) = region.filter(|r| !r.is_empty()) {
            let mut bytes = Vec::with_capacity(r.area());
            for y in r.y0..r.y1 {
                let start = y as usize * w as usize + r.x0 as usize;
                bytes.extend_from_slice(&data.levels[start..start + r.width() as usize]);
            }
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture: &gpu.texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d {
                        x: r.x0,
                        y: r.y0,
                        z: 0,
                    },
                    aspect: wgpu::TextureAspect::All,
                },
                &bytes,
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(r.width()),
                    rows_per_image: Some(r.height()),
                },
                wgpu::Extent3d {
                    width: r.width(),
                    height: r.height(),
                    depth_or_array_layers: 1,
                },
            );
        }
        data.gpu_full = false;
        data.gpu_dirty = None;
        drop(data);
        // The viewport egui will set, back in points, so the UVs match it exactly.
        let ppp = screen_descriptor.pixels_per_point;
        let vp = egui::epaint::ViewportInPixels::from_points(
            &self.visible,
            ppp,
            screen_descriptor.size_in_pixels,
        );
        let vp_rect = Rect::from_min_size(
            egui::pos2(vp.left_px as f32 / ppp, vp.top_px as f32 / ppp),
            egui::vec2(vp.width_px as f32 / ppp, vp.height_px as f32 / ppp),
        );
        queue.write_buffer(
            &gpu.params,
            0,
            &params_bytes(self.screen, vp_rect, self.opacity, self.cmap),
        );
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(res) = resources.get::<ColormapResources>() else {
            return;
        };
        let Some(gpu) = res.fields.get(&self.key) else {
            return;
        };
        render_pass.set_pipeline(&res.pipeline);
        render_pass.set_bind_group(0, &gpu.bind_group, &[]);
        render_pass.draw(0..4, 0..1);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn params_map_the_viewport_to_field_uvs() {
        let screen = Rect::from_min_size(egui::pos2(-100.0, 0.0), egui::vec2(400.0, 200.0));
        let vp = Rect::from_min_max(egui::pos2(0.0, 50.0), egui::pos2(300.0, 200.0));
        let b = params_bytes(screen, vp, 0.5, MapColormap::Magma);
        let f: Vec<f32> = b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(f, vec![0.25, 0.25, 1.0, 1.0, 0.5, 1.0, 0.0, 0.0]);
    }

    /// Renders a small field through the real pipeline on whatever wgpu adapter exists (a
    /// software one is fine) and compares every cell with the CPU table. Skipped, with a
    /// note, when there is no adapter.
    #[test]
    fn gpu_colormap_matches_the_cpu_table() {
        use egui_wgpu::CallbackTrait as _;
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let Ok(adapter) =
            pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
        else {
            eprintln!("no wgpu adapter: GPU colormap test skipped");
            return;
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
        let format = wgpu::TextureFormat::Rgba8Unorm;
        let mut resources = egui_wgpu::CallbackResources::default();
        resources.insert(create_resources(&device, &queue, format).unwrap());

        // A 4×2 field drawn over 64×32 pixels: 16×16 pixels a cell.
        let levels = vec![0u8, 60, 120, 255, 30, 90, 200, 10];
        let field: SharedField =
            std::sync::Arc::new(std::sync::Mutex::new(crate::ui::field::FieldData {
                w: 4,
                h: 2,
                levels: levels.clone(),
                gpu_dirty: None,
                gpu_full: true,
            }));
        let (w, h) = (64u32, 32u32);
        let screen = Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(w as f32, h as f32));
        for (cmap, opacity) in [(MapColormap::Viridis, 1.0f32), (MapColormap::Magma, 1.0)] {
            let cb = FieldCallback {
                key: 1,
                field: field.clone(),
                screen,
                visible: screen,
                cmap,
                opacity,
            };
            let target = device.create_texture(&wgpu::TextureDescriptor {
                label: Some("test-target"),
                size: wgpu::Extent3d {
                    width: w,
                    height: h,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            });
            let view = target.create_view(&wgpu::TextureViewDescriptor::default());
            let mut encoder =
                device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            let extra = cb.prepare(
                &device,
                &queue,
                &egui_wgpu::ScreenDescriptor {
                    size_in_pixels: [w, h],
                    pixels_per_point: 1.0,
                },
                &mut encoder,
                &mut resources,
            );
            assert!(extra.is_empty());
            {
                let mut pass = encoder
                    .begin_render_pass(&wgpu::RenderPassDescriptor {
                        label: Some("test-pass"),
                        color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                            view: &view,
                            depth_slice: None,
                            resolve_target: None,
                            ops: wgpu::Operations {
                                load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                                store: wgpu::StoreOp::Store,
                            },
                        })],
                        ..wgpu::RenderPassDescriptor::default()
                    })
                    .forget_lifetime();
                pass.set_viewport(0.0, 0.0, w as f32, h as f32, 0.0, 1.0);
                cb.paint(
                    egui::PaintCallbackInfo {
                        viewport: screen,
                        clip_rect: screen,
                        pixels_per_point: 1.0,
                        screen_size_px: [w, h],
                    },
                    &mut pass,
                    &resources,
                );
            }
            let readback = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("test-readback"),
                size: u64::from(w * h * 4),
                usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                mapped_at_creation: false,
            });
            encoder.copy_texture_to_buffer(
                wgpu::TexelCopyTextureInfo {
                    texture: &target,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::TexelCopyBufferInfo {
                    buffer: &readback,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: 0,
                        bytes_per_row: Some(w * 4),
                        rows_per_image: Some(h),
                    },
                },
                wgpu::Extent3d {
                    width: w,
                    height: h,
                    depth_or_array_layers: 1,
                },
            );
            queue.submit([encoder.finish()]);
            readback
                .slice(..)
                .map_async(wgpu::MapMode::Read, |r| r.unwrap());
            device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
            let bytes = readback.slice(..).get_mapped_range().unwrap().to_vec();
            let table = lut(cmap);
            for (i, &level) in levels.iter().enumerate() {
                let (cx, cy) = ((i % 4) as u32 * 16 + 8, (i / 4) as u32 * 16 + 8);
                let o = ((cy * w + cx) * 4) as usize;
                let got = &bytes[o..o + 3];
                let want = table[level as usize];
                for c in 0..3 {
                    assert!(
                        got[c].abs_diff(want[c]) <= 1,
                        "{cmap:?} cell {i} level {level}: got {got:?}, want {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn shader_parses_and_has_the_entry_points() {
        for name in ["fn vs_main", "fn fs_gamma", "fn fs_linear"] {
            assert!(SHADER.contains(name), "{name}");
        }
    }
}
