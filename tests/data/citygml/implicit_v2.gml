<?xml version="1.0" encoding="UTF-8"?>
<!-- Hand-made test data for cim_twin: implicit geometry, a template defined inline by the first tree
     and referenced by the second; the second tree is scaled by 2. -->
<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" xmlns:veg="http://www.opengis.net/citygml/vegetation/2.0"
  xmlns:gml="http://www.opengis.net/gml" xmlns:xlink="http://www.w3.org/1999/xlink">
  <gml:boundedBy><gml:Envelope srsName="EPSG:4548" srsDimension="3">
    <gml:lowerCorner>618000 2950000 100</gml:lowerCorner><gml:upperCorner>618100 2950100 120</gml:upperCorner>
  </gml:Envelope></gml:boundedBy>
  <core:cityObjectMember>
    <veg:SolitaryVegetationObject gml:id="tree1">
      <veg:height uom="m">4</veg:height>
      <veg:lod2ImplicitRepresentation>
        <core:ImplicitGeometry>
          <core:transformationMatrix>1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1</core:transformationMatrix>
          <core:relativeGMLGeometry>
            <gml:MultiSurface gml:id="tree_template">
              <gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>
                <gml:posList>-1 -1 0 1 -1 0 1 1 0 -1 1 0 -1 -1 0</gml:posList>
              </gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>
            </gml:MultiSurface>
          </core:relativeGMLGeometry>
          <core:referencePoint><gml:Point><gml:pos>618010 2950010 100</gml:pos></gml:Point></core:referencePoint>
        </core:ImplicitGeometry>
      </veg:lod2ImplicitRepresentation>
    </veg:SolitaryVegetationObject>
  </core:cityObjectMember>
  <core:cityObjectMember>
    <veg:SolitaryVegetationObject gml:id="tree2">
      <veg:lod2ImplicitRepresentation>
        <core:ImplicitGeometry>
          <core:transformationMatrix>2 0 0 0 0 2 0 0 0 0 2 0 0 0 0 1</core:transformationMatrix>
          <core:relativeGMLGeometry xlink:href="#tree_template"/>
          <core:referencePoint><gml:Point><gml:pos>618050 2950050 110</gml:pos></gml:Point></core:referencePoint>
        </core:ImplicitGeometry>
      </veg:lod2ImplicitRepresentation>
    </veg:SolitaryVegetationObject>
  </core:cityObjectMember>
</core:CityModel>
