// Live figures for the overview: polls /api/stats and updates every element carrying
// data-stat="<key>" from its "dashboard" object, formatted for the page's language.
// Pages work without this script; it adds nothing but fresher numbers.
(() => {
  const cells = document.querySelectorAll('[data-stat]')
  if (!cells.length || !window.fetch) return
  const lang = document.documentElement.lang || 'en'
  const ints = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 })
  const rates = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 })
  const tick = async () => {
    try {
      const r = await fetch('/api/stats', { cache: 'no-store' })
      if (!r.ok) return
      const d = (await r.json()).dashboard || {}
      for (const el of cells) {
        const v = d[el.dataset.stat]
        if (typeof v !== 'number') continue
        el.textContent = (el.dataset.stat.startsWith('rates.') ? rates : ints).format(v)
      }
      document.documentElement.dataset.live = 'on'
    } catch (e) { /* try again next time */ }
  }
  tick()
  setInterval(tick, 5000)
})()
